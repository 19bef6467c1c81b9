"""The kubelet's restart back-off: 10 s doubling to 5 min, forgotten after 10 min of running.

The first restart after a crash is immediate; each further crash waits twice as
long as the last wait, counted from when the container exited. A container that
ran for ``reset_after`` seconds before exiting starts over at the base delay.
Times are wall-clock seconds (the runtime records exits as RFC 3339 times, so an
agent restarted in the middle of a back-off keeps honouring it from the records).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Entry:
    delay: float
    exited_at: float


class Backoff:
    def __init__(self, base: float = 10.0, cap: float = 300.0, reset_after: float = 600.0) -> None:
        self.base = base
        self.cap = cap
        self.reset_after = reset_after
        self._entries: dict[str, _Entry] = {}

    def wait_left(self, key: str, exited_at: float, ran_for: float, now: float) -> float:
        """Seconds to wait before restarting ``key`` that exited at ``exited_at``; 0 means restart now
        (and the next crash waits longer)."""
        e = self._entries.get(key)
        if ran_for >= self.reset_after:
            e = None
        if e is not None and e.exited_at == exited_at:
            return max(0.0, exited_at + e.delay - now)
        if e is None:
            self._entries[key] = _Entry(0.0, exited_at)
            return 0.0
        delay = self.base if e.delay == 0 else min(e.delay * 2, self.cap)
        self._entries[key] = _Entry(delay, exited_at)
        return max(0.0, exited_at + delay - now)

    def current(self, key: str) -> float:
        e = self._entries.get(key)
        return e.delay if e is not None else 0.0

    def forget(self, prefix: str) -> None:
        for k in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[k]
