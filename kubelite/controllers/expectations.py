"""ControllerExpectations: how many creates and which deletes a controller still waits to see, per owner.

After a ReplicaSet asks for five pods, its informer sees them one by one; a sync
that ran in between would count too few pods and create more. client-go's answer,
kept here: before acting, the controller records what it expects (``expect_creations``
with a count, ``expect_deletions`` with the pod keys); the pod handlers lower the
record as the informer reports each pod; ``satisfied`` is false until every expected
change has been seen, and the sync then only refreshes status. A record older than
five minutes counts as satisfied (a lost watch event must not freeze the owner), and
a failed create or delete lowers the record at once since nothing will be observed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

EXPECTATIONS_TTL = 300.0


@dataclass
class _Record:
    adds: int = 0
    deletes: set[str] = field(default_factory=set)
    stamp: float = field(default_factory=time.monotonic)

    def fulfilled(self) -> bool:
        return self.adds <= 0 and not self.deletes


class ControllerExpectations:
    def __init__(self, ttl: float = EXPECTATIONS_TTL) -> None:
        self.ttl = ttl
        self._records: dict[str, _Record] = {}

    def satisfied(self, key: str) -> bool:
        """True when nothing is pending for ``key`` (or the record expired): the controller may act again."""
        rec = self._records.get(key)
        return rec is None or rec.fulfilled() or time.monotonic() - rec.stamp > self.ttl

    def expect_creations(self, key: str, count: int) -> None:
        self._records[key] = _Record(adds=count)

    def expect_deletions(self, key: str, pod_keys: list[str]) -> None:
        self._records[key] = _Record(deletes=set(pod_keys))

    def creation_observed(self, key: str) -> None:
        rec = self._records.get(key)
        if rec is not None:
            rec.adds -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        rec = self._records.get(key)
        if rec is not None:
            rec.deletes.discard(pod_key)

    def lower(self, key: str, adds: int = 0, deleted: list[str] | None = None) -> None:
        """Give up on ``adds`` creates and the ``deleted`` pod keys: they failed and will never be observed."""
        rec = self._records.get(key)
        if rec is not None:
            rec.adds -= adds
            rec.deletes.difference_update(deleted or [])

    def forget(self, key: str) -> None:
        self._records.pop(key, None)
