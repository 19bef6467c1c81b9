"""EventRecorder: core/v1 Events about objects, as ``kubectl describe`` and ``kubectl get events`` show them.

Like client-go's recorder, recording never blocks or fails the caller: ``event``
puts the event on a queue and one background task writes it. Repeats of the same
event (same object, type, reason, message and source) are aggregated as client-go's
EventCorrelator does: the first is created with ``count: 1``, later ones patch the
same Event's ``count`` and ``lastTimestamp`` instead of creating new objects, so a
controller that retries a failing sync does not flood the store. Past ten different
messages for the same object, type and reason within ten minutes (a ReplicaSet's
"Created pod: x" for each pod), further ones go to one Event whose message reads
"(combined from similar events): <latest>", client-go's EventAggregator. The Event
name is ``<object>.<hex nanoseconds>``, client-go's, unique per object and moment.
Write failures are logged and dropped: events are best-effort in Kubernetes too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from kubelite.api.client import APIClient, resource_path
from kubelite.api.meta import now_rfc3339
from kubelite.errors import KubeliteError, NotFound

log = logging.getLogger(__name__)

Obj = dict[str, Any]
NORMAL, WARNING = "Normal", "Warning"
MAX_SIMILAR = 10  # client-go's maxSimilarEvents
SIMILAR_WINDOW = 600.0  # seconds; client-go's aggregation interval
COMBINED = "(combined from similar events): "


def object_reference(obj: Obj) -> Obj:
    md = obj.get("metadata") or {}
    ref = {"apiVersion": obj.get("apiVersion", ""), "kind": obj.get("kind", ""), "name": md.get("name", ""),
           "namespace": md.get("namespace"), "uid": md.get("uid"), "resourceVersion": md.get("resourceVersion")}
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    """``EventRecorder(client, "deployment-controller").event(obj, "Normal", "ScalingReplicaSet", "...")``."""

    def __init__(self, client: APIClient, component: str) -> None:
        self.client = client
        self.component = component
        self._queue: asyncio.Queue[tuple[Obj, str, str, str]] = asyncio.Queue()
        # aggregation key -> (namespace, event name, count) of the Event already written
        self._seen: dict[tuple[str, ...], tuple[str, str, int]] = {}
        # aggregation key (no message) -> (distinct messages seen, when the window started)
        self._similar: dict[tuple[str, ...], tuple[set[str], float]] = {}
        self._task: asyncio.Task[None] | None = None

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Record that ``reason`` happened to ``obj``; returns at once."""
        self._queue.put_nowait((object_reference(obj), type_, reason, message))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"events {self.component}")

    async def flush(self) -> None:
        """Wait until every recorded event has been written (or dropped)."""
        await self._queue.join()

    async def stop(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.flush(), 5)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            ref, type_, reason, message = await self._queue.get()
            try:
                await self._write(ref, type_, reason, message)
            except KubeliteError as e:
                log.debug("event %s %s on %s dropped: %s", reason, message, ref.get("name"), e)
            except Exception:
                log.exception("event %s on %s dropped", reason, ref.get("name"))
            finally:
                self._queue.task_done()

    async def _write(self, ref: Obj, type_: str, reason: str, message: str) -> None:
        ns = ref.get("namespace") or "default"
        similar = (ref.get("kind", ""), ns, ref.get("name", ""), ref.get("uid", ""), type_, reason)
        key = (*similar, message)
        messages, since = self._similar.get(similar, (set(), time.monotonic()))
        if time.monotonic() - since > SIMILAR_WINDOW:
            messages, since = set(), time.monotonic()
        messages.add(message)
        self._similar[similar] = (messages, since)
        if len(messages) >= MAX_SIMILAR:
            messages.pop()  # stays at the limit, as client-go's PopAny
            key, message = (*similar, COMBINED), COMBINED + message
        stamp = now_rfc3339()
        seen = self._seen.get(key)
        if seen is not None:
            _, name, count = seen
            try:
                await self.client.patch(resource_path("v1", "events", ns, name),
                                        {"count": count + 1, "lastTimestamp": stamp, "message": message})
                self._seen[key] = (ns, name, count + 1)
                return
            except NotFound:  # expired or deleted: start a new one
                pass
        name = f"{ref.get('name', 'unknown')}.{time.time_ns():x}"
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": ref, "reason": reason, "message": message, "type": type_,
            "source": {"component": self.component},
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
            "reportingComponent": self.component, "reportingInstance": self.component,
        }
        await self.client.create(resource_path("v1", "events", ns), body)
        if len(self._seen) > 4096:  # client-go's LRU bound; forgetting only costs a fresh Event
            self._seen.pop(next(iter(self._seen)))
            self._similar.pop(next(iter(self._similar)), None)
        self._seen[key] = (ns, name, 1)
