"""In-process watch fan-out for drivers that see every write themselves (sqlite).

The writer hands each committed batch of events to :meth:`Hub.publish` on the
event loop; the hub appends them to the queue of every watcher whose prefix
matches. Nothing polls the database for our own writes.

Writers never wait for watchers: each watcher's live queue is bounded, and a
watcher whose queue overflows is dropped at once (its iterator raises
:class:`~kubelite.store.contracts.WatchTooSlow` once it has drained what it
already has), the way kube-apiserver ends a watch that cannot keep up.

A watch from an old revision is made gap-free and duplicate-free by ordering:
register with the hub first (live events start queueing), *then* read the
history from the database; events seen both ways are skipped by revision,
since every watcher delivers strictly increasing revisions.
"""

from __future__ import annotations

import asyncio
from collections import deque

from kubelite.store.contracts import Event, WatchBase, WatchTooSlow

_OPEN, _DROPPED, _CLOSED = 0, 1, 2


class HubWatch(WatchBase):
    def __init__(self, hub: Hub, prefix: str, after: int, maxlen: int) -> None:
        self._hub = hub
        self.prefix = prefix
        self._last = after
        self._maxlen = maxlen
        self._backlog: deque[Event] = deque()  # history from the database: not bounded, read once
        self._live: deque[Event] = deque()
        self._state = _OPEN
        self._waiter: asyncio.Future[None] | None = None

    def set_backlog(self, events: list[Event]) -> None:
        self._backlog.extend(events)

    def _push(self, ev: Event) -> None:
        if self._state != _OPEN:
            return
        self._live.append(ev)
        if len(self._live) > self._maxlen:
            self._live.clear()
            self._end(_DROPPED)
        else:
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _end(self, state: int) -> None:
        if self._state == _OPEN:
            self._state = state
            self._hub.unregister(self)
        self._wake()

    def _pop(self) -> Event | None:
        while self._backlog or self._live:
            ev = (self._backlog or self._live).popleft()
            if ev.revision > self._last:
                self._last = ev.revision
                return ev
        return None

    async def __anext__(self) -> Event:
        while True:
            ev = self._pop()
            if ev is not None:
                return ev
            if self._state == _CLOSED:
                raise StopAsyncIteration
            if self._state == _DROPPED:
                self._state = _CLOSED
                raise WatchTooSlow(f"watch on {self.prefix!r} fell more than {self._maxlen} events behind"
                                   f" after revision {self._last}")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def aclose(self) -> None:
        self._backlog.clear()
        self._live.clear()
        self._end(_CLOSED)
        self._state = _CLOSED


class Hub:
    def __init__(self) -> None:
        self._watchers: dict[int, HubWatch] = {}

    def register(self, prefix: str, after: int, maxlen: int) -> HubWatch:
        w = HubWatch(self, prefix, after, maxlen)
        self._watchers[id(w)] = w
        return w

    def unregister(self, w: HubWatch) -> None:
        self._watchers.pop(id(w), None)

    def __len__(self) -> int:
        return len(self._watchers)

    def publish(self, events: list[Event]) -> None:
        if not events:
            return
        for w in list(self._watchers.values()):
            p = w.prefix
            for ev in events:
                if ev.kv.key.startswith(p):
                    w._push(ev)

    def close(self) -> None:
        """End every watch: iterators stop after what they already hold."""
        for w in list(self._watchers.values()):
            w._end(_CLOSED)
