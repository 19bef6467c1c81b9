"""Whether a namespace exists, answered from memory: the existence check of every namespaced create.

kube-apiserver's NamespaceLifecycle admission reads namespaces from an
informer and falls back to a live read when the informer has not seen one;
this is the same idea without the full objects. Names known to exist are
kept with the revision they were seen at; a miss reads the store (and
remembers a hit), so a namespace made a moment ago by another server is
still found. Forgetting is what must never lag: a namespace deleted here is
forgotten at once, and one deleted anywhere else is forgotten when the
store's watch on ``/registry/namespaces/`` delivers the deletion.

Ordering makes it exact for this server and as good as the watch for
others: the watch is open (its start revision fixed) before any read is
remembered, so every deletion is either already visible to that read or
still to come through the watch; a deletion records a tombstone revision, so
a read or a PUT event older than the deletion cannot bring the name back.
If the watch breaks, everything is forgotten and it starts again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kubelite.errors import Gone, NotFound
from kubelite.store.contracts import Store

PREFIX = "/registry/namespaces/"
log = logging.getLogger(__name__)


class NamespaceCache:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._live: dict[str, int] = {}  # name -> the revision it was seen live at
        self._gone: dict[str, int] = {}  # name -> the revision of its deletion
        self._epoch = 0  # counts watch (re)starts: a read begun under another watch is not remembered
        self._running = False
        self._started = False
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def exists(self, name: str) -> bool:
        if name in self._live:
            return True
        if not self._started and not self._closed:
            self._started = True
            self._task = asyncio.create_task(self._run(), name="kubelite-namespace-cache")
        epoch, running = self._epoch, self._running
        try:
            kv = await self.store.get(PREFIX + name)
        except NotFound:
            return False
        if running and self._running and self._epoch == epoch:
            self._remember(name, kv.mod_revision)
        return True

    def deleted(self, name: str, revision: int) -> None:
        """A deletion made through this server: forget the name now, not when the watch reports it."""
        self._live.pop(name, None)
        self._gone[name] = max(self._gone.get(name, 0), revision)

    def _remember(self, name: str, revision: int) -> None:
        if revision > self._gone.get(name, 0):
            self._live[name] = max(self._live.get(name, 0), revision)

    async def _run(self) -> None:
        last = 0
        try:
            while not self._closed:
                try:
                    if not last:
                        last = await self.store.current_revision()
                    async with await self.store.watch(PREFIX, revision=last) as w:
                        self._running = True
                        async for ev in w:
                            last = ev.revision
                            name = ev.kv.key[len(PREFIX):]
                            if ev.type == "DELETE":
                                self.deleted(name, ev.revision)
                            else:
                                self._remember(name, ev.revision)
                except asyncio.CancelledError:
                    raise
                except Gone:
                    last = 0  # history lost: start over from now, remembering nothing from before
                except Exception as e:  # noqa: BLE001 - resumed from the last revision seen
                    log.debug("namespace watch ended (%s); resuming", e)
                self._running = False
                if last == 0:
                    self._epoch += 1
                    self._live.clear()
                if not self._closed:
                    await asyncio.sleep(0.1)
        finally:
            self._running = False
            self._live.clear()

    async def close(self) -> None:
        self._closed = True
        self._live.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
