"""The watch cache: one store watch per resource, fanned out in memory to every watch of it (kube's cacher).

Without it every ``?watch=1`` request opened its own store watch and decoded
and re-encoded every event for itself: a hundred watchers of pods paid a
hundred decodes and encodes per pod write. A :class:`Cacher` watches the
store once per resource prefix (``/registry/pods/``) and appends each event,
as an :class:`Entry`, to a ring; an entry decodes its object and encodes its
watch-event line (the stored bytes with the resourceVersion spliced in, as
lists do) at most once, on first use, whoever asks.

A watcher is only a cursor into the ring: a write wakes it, it takes every
entry after its cursor in one go (so a watcher that fell behind catches up in
one batch, one write to its connection) and keeps those under its namespace.
The ring covers every event after ``floor``; a watch from an older
resourceVersion, or one that fell so far behind that its entries left the
ring, is served straight from the store instead (:class:`StoreSource`, which
reads the history the ring no longer holds), so nobody gets a 410 the store
itself would not give.

The first watch of a resource starts its cacher at that watch's
resourceVersion (usually the revision of the list before it), so the
list-then-watch of every informer is served from the ring from the start.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections import deque
from typing import Protocol

from kubelite.api import jsonfast
from kubelite.api.registry.base import Obj
from kubelite.api.storage import decode, item_json
from kubelite.store.contracts import Event, KeyValue, Store, WatchTooSlow

log = logging.getLogger(__name__)
CAPACITY = 2048  # events the ring keeps at least (it is trimmed back to this at twice as many)
_TYPES = {"ADDED": b'{"type":"ADDED","object":', "MODIFIED": b'{"type":"MODIFIED","object":',
          "DELETED": b'{"type":"DELETED","object":'}


class Entry:
    """One store event (or one listed object), decoded and encoded lazily, once for all watchers."""

    __slots__ = ("type", "kv", "prev_kv", "_obj", "_prev", "_next", "_json", "_lines")

    def __init__(self, type_: str, kv: KeyValue, prev_kv: KeyValue | None) -> None:
        self.type, self.kv, self.prev_kv = type_, kv, prev_kv  # PUT or DELETE, as the store says
        self._obj: Obj | None = None
        self._prev: Obj | None = None
        # the ring's next entry of this key, whose previous version this entry's object is: a link forward
        # only, so no entry keeps older ones alive
        self._next: Entry | None = None
        self._json: bytes | None = None
        self._lines: dict[str, bytes] = {}

    @classmethod
    def of(cls, ev: Event) -> Entry:
        return cls(ev.type, ev.kv, ev.prev_kv)

    @property
    def revision(self) -> int:
        return self.kv.mod_revision

    @property
    def key(self) -> str:
        return self.kv.key

    def obj(self) -> Obj:
        """The object (resourceVersion set), shared: readers must not change it."""
        if self._obj is None:
            self._obj = decode(self.kv)
            nxt = self._next
            if nxt is not None and nxt._prev is None:
                nxt._prev = self._obj  # a selector watch reads both versions of the next change: decoded once
        return self._obj

    def prev(self) -> Obj | None:
        if self._prev is None and self.prev_kv is not None:
            self._prev = decode(self.prev_kv)
        return self._prev

    def line(self, watch_type: str) -> bytes:
        """``{"type":...,"object":...}`` and a newline, as a watch stream carries it."""
        out = self._lines.get(watch_type)
        if out is None:
            if self._json is None:
                self._json = item_json(self.kv) if self._obj is None else jsonfast.dumps(self._obj)
            out = self._lines[watch_type] = b"".join((_TYPES[watch_type], self._json, b"}\n"))
        return out


class Source(Protocol):
    """Where one watch request's entries come from: the cache, or the store directly."""

    async def next(self, until: float) -> list[Entry]:
        """The entries after the last ones taken; [] once the loop's clock reaches ``until`` or the source ended."""
        ...

    @property
    def ended(self) -> bool: ...

    def close(self) -> None: ...


class FellBehind(Exception):
    """A cache watcher's entries left the ring before it took them: continue from the store."""


class _Waiting:
    """One waiter, woken by new entries, its deadline or close.

    No task and no timer per wait: a watcher waits again after every event,
    and a hundred watchers of one resource do it a hundred times per write.
    The timer is kept while it is not later than the deadline asked for; one
    that fires early is a spurious wake-up, which ``next`` loops over.
    """

    def __init__(self) -> None:
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.ended = False

    def wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _alarm(self) -> None:
        self._timer = None
        self.wake()

    async def wait(self, until: float) -> None:
        loop = asyncio.get_running_loop()
        if self._timer is None or self._timer.when() > until:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_at(until, self._alarm)
        self._waiter = fut = loop.create_future()
        try:
            await fut
        finally:
            self._waiter = None

    def close(self) -> None:
        self.ended = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.wake()


class CacheWatcher(_Waiting):
    """A cursor into a :class:`Cacher`'s ring, taking the entries under ``key_prefix`` after ``after``."""

    def __init__(self, cacher: Cacher, key_prefix: str, after: int, pos: int) -> None:
        super().__init__()
        self.cacher, self.key_prefix, self.last, self.pos = cacher, key_prefix, after, pos

    async def next(self, until: float) -> list[Entry]:
        c = self.cacher
        loop = asyncio.get_running_loop()
        while not self.ended:
            if self.pos < c.base:
                raise FellBehind()
            taken = c.entries[self.pos - c.base:]
            if taken:
                self.pos += len(taken)
                p, last = self.key_prefix, self.last
                out = [e for e in taken if e.kv.mod_revision > last and (not p or e.kv.key.startswith(p))]
                self.last = max(last, taken[-1].kv.mod_revision)
                if out:
                    return out
                continue  # all in other namespaces: keep waiting
            if c.ended:  # the cache's store watch broke: the store takes over from here
                raise FellBehind()
            if loop.time() >= until:
                break
            await self.wait(until)
        return []

    def close(self) -> None:
        self.cacher.watchers.discard(self)
        super().close()


class Cacher:
    """One store watch of ``prefix`` from ``floor`` on, its events kept in a ring for every watcher."""

    def __init__(self, store: Store, prefix: str, floor: int, capacity: int = CAPACITY) -> None:
        self.store, self.prefix, self.floor, self.capacity = store, prefix, floor, capacity
        self.entries: list[Entry] = []
        self.revisions: list[int] = []
        self.base = 0  # the sequence number of entries[0]
        self.watchers: set[CacheWatcher] = set()
        self.ended = False
        self._task: asyncio.Task[None] | None = None
        self._latest: dict[str, Entry] = {}  # key -> its newest entry in the ring

    async def start(self) -> None:
        """Open the store watch (raising what the store raises, e.g. Gone), then follow it in a task."""
        w = await self.store.watch(self.prefix, revision=self.floor)
        self._task = asyncio.create_task(self._run(w), name=f"kubelite-watch-cache:{self.prefix}")

    def watch(self, key_prefix: str, after: int) -> CacheWatcher | None:
        """A watcher of the changes after ``after``, or None when the ring does not reach back that far."""
        if self.ended or after < self.floor:
            return None
        pos = self.base + bisect.bisect_right(self.revisions, after)
        w = CacheWatcher(self, "" if key_prefix == self.prefix else key_prefix, after, pos)
        self.watchers.add(w)
        return w

    async def _run(self, w: object) -> None:
        last = self.floor
        try:
            while True:
                try:
                    async with w as watch:  # type: ignore[attr-defined]
                        async for ev in watch:
                            last = ev.revision
                            self._append(Entry.of(ev))
                    return  # the store closed
                except WatchTooSlow:
                    w = await self.store.watch(self.prefix, revision=last)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - its watchers go on from the store, which reports the error
            log.info("watch cache of %s stopped: %s", self.prefix, e)
        finally:
            self.ended = True
            for watcher in list(self.watchers):
                watcher.wake()

    def _append(self, e: Entry) -> None:
        key, latest = e.kv.key, self._latest
        before = latest.get(key)
        if before is not None and e.prev_kv is not None and before.kv.mod_revision == e.prev_kv.mod_revision:
            if before._obj is not None:
                e._prev = before._obj
            else:
                before._next = e
        if e.type == "DELETE":
            latest.pop(key, None)
        else:
            latest[key] = e
        self.entries.append(e)
        self.revisions.append(e.kv.mod_revision)
        if len(self.entries) >= 2 * self.capacity:
            drop = len(self.entries) - self.capacity
            self.floor = self.revisions[drop - 1]
            for old in self.entries[:drop]:
                if latest.get(old.kv.key) is old:
                    del latest[old.kv.key]
            del self.entries[:drop], self.revisions[:drop]
            self.base += drop
        for watcher in self.watchers:
            watcher.wake()

    async def close(self) -> None:
        self.ended = True
        for watcher in list(self.watchers):
            watcher.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class StoreSource(_Waiting):
    """One store watch for one request: a watch from before the ring, or one that fell out of it."""

    def __init__(self, store: Store, prefix: str, after: int) -> None:
        super().__init__()
        self.store, self.prefix, self.last = store, prefix, after
        self._pending: deque[Entry] = deque()
        self._error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        w = await self.store.watch(self.prefix, revision=self.last)  # Gone for a compacted revision, up front
        self._task = asyncio.create_task(self._pump(w))

    async def _pump(self, w: object) -> None:
        revision = self.last
        try:
            while True:
                try:
                    async with w as watch:  # type: ignore[attr-defined]
                        async for ev in watch:
                            revision = ev.revision
                            self._pending.append(Entry.of(ev))
                            self.wake()
                    break
                except WatchTooSlow:
                    w = await self.store.watch(self.prefix, revision=revision)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - handed to the consumer, which reports it
            self._error = e
        self.ended = True
        self.wake()

    async def next(self, until: float) -> list[Entry]:
        loop = asyncio.get_running_loop()
        while not self._pending and not self.ended and loop.time() < until:
            await self.wait(until)
        if self._pending:
            out = list(self._pending)
            self._pending.clear()
            return out
        if self._error is not None:
            err, self._error = self._error, None
            raise err
        return []

    def close(self) -> None:
        super().close()
        if self._task is not None:
            self._task.cancel()


class WatchCaches:
    """The cachers of one Storage, one per resource prefix, each started by the first watch of it."""

    def __init__(self, store: Store, capacity: int = CAPACITY) -> None:
        self.store, self.capacity = store, capacity
        self._cachers: dict[str, Cacher] = {}
        self._starting: dict[str, asyncio.Future[None]] = {}
        self._closed = False

    async def source(self, resource_prefix: str, key_prefix: str, after: int) -> Source:
        """Entries under ``key_prefix`` (inside ``resource_prefix``) with revisions after ``after``."""
        w = await self._watcher(resource_prefix, key_prefix, after)
        if w is not None:
            return w
        return await self.from_store(key_prefix, after)

    async def from_store(self, key_prefix: str, after: int) -> StoreSource:
        src = StoreSource(self.store, key_prefix, after)
        await src.start()
        return src

    async def _watcher(self, resource_prefix: str, key_prefix: str, after: int) -> CacheWatcher | None:
        if self._closed or after <= 0:
            return None
        starting = self._starting.get(resource_prefix)
        if starting is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(starting)
        c = self._cachers.get(resource_prefix)
        if c is None or c.ended:
            c = Cacher(self.store, resource_prefix, after, self.capacity)
            fut = self._starting[resource_prefix] = asyncio.get_running_loop().create_future()
            try:
                await c.start()
            except Exception:  # noqa: BLE001 - no cache: this watch goes to the store, which says why
                return None
            finally:
                del self._starting[resource_prefix]
                fut.set_result(None)
            if self._closed:
                await c.close()
                return None
            self._cachers[resource_prefix] = c
        return c.watch(key_prefix, after)

    async def close(self) -> None:
        self._closed = True
        for c in list(self._cachers.values()):
            await c.close()
        self._cachers.clear()
