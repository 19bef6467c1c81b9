"""PrioritySort: higher ``spec.priority`` first, then first come, first served."""

from __future__ import annotations

from kubelite.scheduler.nodeinfo import PodInfo


class PrioritySort:
    name = "PrioritySort"

    def sort_key(self, pi: PodInfo, timestamp: float) -> tuple[int, float]:
        return (-pi.priority, timestamp)
