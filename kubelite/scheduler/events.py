"""The scheduler's core/v1 Events (Scheduled, FailedScheduling, Preempted), as ``kubectl describe pod`` shows them.

The scheduler layer cannot use the controllers' recorder (same level), so this
is its own small one with the same behaviour: recording never blocks a cycle
(a queue and a few writer tasks), and repeats of one event on one pod (same
reason and message) patch the first Event's ``count`` and ``lastTimestamp``
instead of creating new objects, as client-go's correlator does, so a pod
retried every few seconds does not flood the store. The aggregation memory is
bounded (oldest entries dropped). Bindings come first: while ``busy()`` says
the scheduler has many bindings in flight, the writers wait (events trail a
burst instead of halving its binding rate on a loaded API server). Write failures are dropped: events are
best-effort in Kubernetes too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from kubelite.api.client import APIClient, resource_path
from kubelite.api.meta import now_rfc3339
from kubelite.errors import KubeliteError, NotFound

log = logging.getLogger(__name__)
Obj = dict[str, Any]
WRITERS, MEMORY = 4, 4096


class Recorder:
    def __init__(self, client: APIClient, component: str, busy: Callable[[], bool] | None = None) -> None:
        self.client = client
        self.busy = busy or (lambda: False)
        self.component = component
        self.instance = f"{component}-{socket.gethostname()}"
        self._queue: asyncio.Queue[tuple[Obj, str, str, str]] = asyncio.Queue()
        self._seen: OrderedDict[tuple[str, str, str], tuple[str, str, int]] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []

    def event(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        md = pod.get("metadata") or {}
        ref = {"apiVersion": "v1", "kind": "Pod", "namespace": md.get("namespace"), "name": md.get("name"),
               "uid": md.get("uid"), "resourceVersion": md.get("resourceVersion")}
        self._queue.put_nowait(({k: v for k, v in ref.items() if v}, type_, reason, message))
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._run(), name=f"events {self.component}") for _ in range(WRITERS)]

    @property
    def queued(self) -> int:
        """Events recorded and not yet written."""
        return self._queue.qsize()

    async def flush(self) -> None:
        await self._queue.join()

    async def stop(self) -> None:
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush(), 5)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []

    async def _run(self) -> None:
        while True:
            ref, type_, reason, message = await self._queue.get()
            while self.busy():
                await asyncio.sleep(0.05)
            try:
                await self._write(ref, type_, reason, message)
            except KubeliteError as e:
                log.debug("event %s on %s dropped: %s", reason, ref.get("name"), e)
            except Exception:
                log.exception("event %s on %s dropped", reason, ref.get("name"))
            finally:
                self._queue.task_done()

    async def _write(self, ref: Obj, type_: str, reason: str, message: str) -> None:
        ns = str(ref.get("namespace") or "default")
        key = (str(ref.get("uid") or ref.get("name")), reason, message)
        now = now_rfc3339()
        seen = self._seen.get(key)
        if seen is not None:
            _, name, count = seen
            try:
                await self.client.patch(resource_path("v1", "events", ns, name),
                                        {"count": count + 1, "lastTimestamp": now})
                self._seen[key] = (ns, name, count + 1)
                self._seen.move_to_end(key)
                return
            except NotFound:
                pass  # expired or deleted: write a new one
        name = f"{ref.get('name')}.{time.time_ns():x}"
        await self.client.create(resource_path("v1", "events", ns), {
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
            "involvedObject": ref, "reason": reason, "message": message, "type": type_,
            "source": {"component": self.component}, "count": 1, "firstTimestamp": now, "lastTimestamp": now,
            "reportingComponent": self.component, "reportingInstance": self.instance})
        self._seen[key] = (ns, name, 1)
        while len(self._seen) > MEMORY:
            self._seen.popitem(last=False)
