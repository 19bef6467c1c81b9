"""Automatic compaction: forget old history so the database does not grow without bound.

The policy is kube-apiserver's (compact periodically to the revision seen
``retention`` seconds ago) combined with kine's (always keep the last ``keep``
revisions): the target is the *older* of the two, so history covers at least
both windows. The compactor samples the current revision every interval and
remembers the samples it may still need, which makes it work the same for
every driver without clocks in the data. Its policy is a pure function
(:func:`compaction_target`) so it is tested without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from kubelite.errors import Gone, KubeliteError
from kubelite.store.contracts import Store
from kubelite.store.options import StoreOptions

log = logging.getLogger(__name__)


def compaction_target(samples: deque[tuple[float, int]], now: float, current: int, retention: float,
                      keep: int) -> int:
    """The revision to compact to, given (time, revision) samples oldest first; drops samples no longer needed.

    Returns 0 when there is nothing to compact yet.
    """
    by_count = current - keep if keep else current
    if retention:
        cutoff = now - retention
        while len(samples) > 1 and samples[1][0] <= cutoff:
            samples.popleft()
        by_time = samples[0][1] if samples and samples[0][0] <= cutoff else 0
    else:
        by_time = current
    return max(0, min(by_count, by_time))


class AutoCompactor:
    """Runs :func:`compaction_target` every ``compact_interval`` seconds against one store."""

    def __init__(self, store: Store, options: StoreOptions, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._opts = options
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self._done = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._opts.compact_interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="kubelite-store-compactor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def tick(self) -> int:
        """Sample the revision and compact if the policy says so; returns the revision compacted to (or 0)."""
        now = self._clock()
        current = await self._store.current_revision()
        self._samples.append((now, current))
        target = compaction_target(self._samples, now, current, self._opts.retention, self._opts.keep)
        if target <= self._done:
            return 0
        try:
            await self._store.compact(target)
        except Gone:
            pass  # someone (another API server on the same etcd) compacted further already
        self._done = target
        return target

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._opts.compact_interval)
            try:
                rev = await self.tick()
                if rev:
                    log.debug("compacted store history to revision %d", rev)
            except KubeliteError as e:
                log.warning("automatic compaction failed: %s", e)
