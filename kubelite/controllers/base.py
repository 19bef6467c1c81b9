"""The Controller base: informers feed a WorkQueue of keys, N worker tasks call ``sync(key)``.

This is the kube-controller-manager pattern, and why it is safe to restart at
any moment: handlers only enqueue ``namespace/name`` keys; ``sync`` reads the
desired and observed state from the informer caches and acts on the difference
(level-triggered), so a missed, repeated or reordered event changes nothing. A
sync that raises is retried with exponential back-off (the WorkQueue's), one that
returns is forgotten. The queue guarantees one worker per key at a time.

A subclass sets ``name``, builds its informers and handlers in ``__init__`` from
the :class:`ControllerContext`, and implements ``sync``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from kubelite.api.client import APIClient
from kubelite.api.informer import object_key
from kubelite.controllers.events import NORMAL, WARNING, EventRecorder
from kubelite.controllers.informers import SharedInformers
from kubelite.controllers.options import ControllerOptions
from kubelite.controllers.workqueue import WorkQueue
from kubelite.errors import Conflict, KubeliteError, NotFound

__all__ = ["NORMAL", "WARNING", "Controller", "ControllerContext", "EventRecorder"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass
class ControllerContext:
    """What every controller factory receives: the client, the shared informers, the options."""

    client: APIClient
    informers: SharedInformers
    options: ControllerOptions

    def recorder(self, component: str) -> EventRecorder:
        return EventRecorder(self.client, component)


class Controller:
    name = "controller"

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.options = ctx.options
        self.queue = WorkQueue(max_delay=ctx.options.max_retry_delay)
        self.recorder = ctx.recorder(f"{self.name}-controller")
        self._workers: list[asyncio.Task[None]] = []

    # --- what subclasses implement -------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        raise NotImplementedError

    # --- queueing ------------------------------------------------------------------------------------

    def enqueue(self, obj: Obj | str) -> None:
        self.queue.add(obj if isinstance(obj, str) else object_key(obj))

    def enqueue_after(self, obj: Obj | str, delay: float) -> None:
        self.queue.add_after(obj if isinstance(obj, str) else object_key(obj), delay)

    # --- running -------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the workers; call once the informers have synced."""
        for i in range(max(1, self.options.workers)):
            self._workers.append(asyncio.create_task(self._worker(), name=f"{self.name} worker {i}"))

    async def stop(self) -> None:
        await self.queue.shutdown()
        for t in self._workers:
            t.cancel()
        for t in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._workers.clear()
        await self.recorder.stop()

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            if key is None:
                return
            try:
                await self.sync(key)
            except asyncio.CancelledError:
                raise
            except (Conflict, NotFound) as e:
                # Our cache was stale: the informer will bring the news; retry soon, quietly.
                log.debug("%s: sync %s: %s", self.name, key, e)
                self.queue.requeue_with_backoff(key)
            except Exception as e:
                log.warning("%s: sync %s failed: %s", self.name, key, e, exc_info=not isinstance(e, KubeliteError))
                self.queue.requeue_with_backoff(key)
            else:
                self.queue.forget(key)
            finally:
                self.queue.done(key)

