"""The scheduling queue: active, back-off and unschedulable, as kube-scheduler's PriorityQueue.

- **active**: a heap ordered by the profile's QueueSort (priority, then age);
  ``pop`` takes from here.
- **back-off**: pods that failed recently wait ``1s * 2^(attempts-1)`` (at most
  10 s) before they are active again.
- **unschedulable**: pods that fit nowhere wait here until a cluster event that
  could help them: a node added or changed, an assigned pod deleted (room
  freed), an assigned pod added (for affinity and spread). Each pod remembers
  the plugins that rejected it and an event only moves pods one of those
  plugins cares about (a lite QueueingHint). Every 30 s pods parked for over
  5 minutes are retried regardless.

So a flood of pods that fit nowhere costs one cycle each, then sits in the
unschedulable pool while the rest of the queue keeps flowing. If an event
arrived while a pod was being scheduled (it was popped, the cluster changed,
the cycle failed on the old picture), the pod goes to back-off rather than to
the unschedulable pool, so the event is not lost.

Heap entries are invalidated lazily: each key has one live ``QueuedPod`` and a
heap tuple is skipped when its key is no longer active with that sequence.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubelite.scheduler.nodeinfo import PodInfo

INITIAL_BACKOFF, MAX_BACKOFF = 1.0, 10.0
UNSCHEDULABLE_TIMEOUT, FLUSH_INTERVAL = 300.0, 30.0

# cluster events and the plugins whose rejections they may undo
NODE_ADD, NODE_UPDATE, POD_DELETE, POD_ADD = "NodeAdd", "NodeUpdate", "AssignedPodDelete", "AssignedPodAdd"
EVENT_PLUGINS: dict[str, set[str] | None] = {
    NODE_ADD: None,  # everything
    NODE_UPDATE: None,
    POD_DELETE: {"NodeResourcesFit", "NodePorts", "InterPodAffinity", "PodTopologySpread", "DefaultPreemption"},
    POD_ADD: {"InterPodAffinity", "PodTopologySpread"},
}


@dataclass(slots=True, eq=False)
class QueuedPod:
    pi: PodInfo
    timestamp: float  # when it first entered the queue: the tie-breaker of equal priorities
    attempts: int = 0
    backoff_until: float = 0.0
    failed_plugins: set[str] = field(default_factory=set)
    parked_at: float = 0.0
    seq: int = 0


class SchedulingQueue:
    def __init__(self, sort_key: Callable[[PodInfo, float], Any], clock: Callable[[], float] = time.monotonic) -> None:
        self.sort_key = sort_key
        self.clock = clock
        self.pods: dict[str, QueuedPod] = {}  # every pod the queue knows, wherever it is
        self.active: dict[str, int] = {}  # key -> seq of its live heap entry
        self.backoff: dict[str, int] = {}
        self.unschedulable: dict[str, QueuedPod] = {}
        self.in_flight: set[str] = set()
        self._moved_while_in_flight: set[str] = set()
        self._active_heap: list[tuple[Any, int, str]] = []
        self._backoff_heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._last_flush = clock()

    def __len__(self) -> int:
        return len(self.pods)

    # --- entering ---------------------------------------------------------------------------------------

    def add(self, pi: PodInfo) -> None:
        """A new pending pod, or a new version of one the queue holds."""
        qp = self.pods.get(pi.key)
        if qp is None:
            qp = self.pods[pi.key] = QueuedPod(pi, self.clock())
            self._activate(qp)
            return
        qp.pi = pi
        if pi.key in self.unschedulable:
            # the pod itself changed (its spec, labels): worth another try at once, as Kubernetes does
            del self.unschedulable[pi.key]
            self._to_backoff_or_active(qp)
        elif pi.key in self.active:
            self._activate(qp)  # re-sort: its priority may have changed

    def delete(self, key: str) -> None:
        self.pods.pop(key, None)
        self.active.pop(key, None)
        self.backoff.pop(key, None)
        self.unschedulable.pop(key, None)

    def _activate(self, qp: QueuedPod) -> None:
        seq = next(self._seq)
        self.active[qp.pi.key] = seq
        self.backoff.pop(qp.pi.key, None)
        heapq.heappush(self._active_heap, (self.sort_key(qp.pi, qp.timestamp), seq, qp.pi.key))
        self._wake.set()

    def _to_backoff_or_active(self, qp: QueuedPod) -> None:
        if qp.backoff_until > self.clock():
            seq = next(self._seq)
            self.backoff[qp.pi.key] = seq
            heapq.heappush(self._backoff_heap, (qp.backoff_until, seq, qp.pi.key))
            self._wake.set()
        else:
            self._activate(qp)

    # --- after a cycle ----------------------------------------------------------------------------------

    def done(self, key: str) -> None:
        """The cycle of ``key`` ended with the pod assumed (or gone): the queue forgets it."""
        self.in_flight.discard(key)
        self._moved_while_in_flight.discard(key)
        self.delete(key)

    def requeue(self, qp: QueuedPod, failed_plugins: set[str], error: bool = False) -> None:
        """The cycle failed: back off, then wait for a helpful event (or just back off after an error)."""
        key = qp.pi.key
        self.in_flight.discard(key)
        moved = key in self._moved_while_in_flight
        self._moved_while_in_flight.discard(key)
        if self.pods.get(key) is not qp:
            return  # deleted meanwhile
        qp.attempts += 1
        qp.backoff_until = self.clock() + min(INITIAL_BACKOFF * 2 ** (qp.attempts - 1), MAX_BACKOFF)
        qp.failed_plugins = failed_plugins
        if error or moved:
            self._to_backoff_or_active(qp)
        else:
            qp.parked_at = self.clock()
            self.unschedulable[key] = qp

    def move(self, event: str) -> None:
        """A cluster event: retry the unschedulable pods it may help."""
        interested = EVENT_PLUGINS.get(event)
        for key, qp in list(self.unschedulable.items()):
            if interested is None or not qp.failed_plugins or qp.failed_plugins & interested:
                del self.unschedulable[key]
                self._to_backoff_or_active(qp)
        self._moved_while_in_flight |= self.in_flight

    # --- leaving ----------------------------------------------------------------------------------------

    def _flush(self) -> float | None:
        """Move due back-offs (and long-parked pods) to active; the seconds until the next back-off is due."""
        now = self.clock()
        if now - self._last_flush >= FLUSH_INTERVAL:
            self._last_flush = now
            for key, qp in list(self.unschedulable.items()):
                if now - qp.parked_at >= UNSCHEDULABLE_TIMEOUT:
                    del self.unschedulable[key]
                    self._to_backoff_or_active(qp)
        heap = self._backoff_heap
        while heap:
            due, seq, key = heap[0]
            if self.backoff.get(key) != seq:
                heapq.heappop(heap)
                continue
            if due > now:
                return due - now
            heapq.heappop(heap)
            self._activate(self.pods[key])
        return None

    def pop_nowait(self) -> QueuedPod | None:
        self._flush()
        heap = self._active_heap
        while heap:
            _, seq, key = heapq.heappop(heap)
            if self.active.get(key) == seq:
                del self.active[key]
                self.in_flight.add(key)
                return self.pods[key]
        return None

    async def pop(self) -> QueuedPod:
        while True:
            qp = self.pop_nowait()
            if qp is not None:
                return qp
            self._wake.clear()
            wait = self._flush()
            timeout = min(wait if wait is not None else FLUSH_INTERVAL, FLUSH_INTERVAL)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    def pending_summary(self) -> dict[str, int]:
        return {"active": len(self.active), "backoff": len(self.backoff), "unschedulable": len(self.unschedulable),
                "in_flight": len(self.in_flight)}
