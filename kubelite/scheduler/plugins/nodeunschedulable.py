"""NodeUnschedulable: a cordoned node (``spec.unschedulable``) takes only pods that tolerate
``node.kubernetes.io/unschedulable:NoSchedule``."""

from __future__ import annotations

from kubelite.scheduler.framework import CycleState, Status, unschedulable
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo
from kubelite.scheduler.selectors import tolerated

NAME = "NodeUnschedulable"
REASON = "node(s) were unschedulable"
TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


class NodeUnschedulable:
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if node.unschedulable and not tolerated(pod.tolerations, TAINT):
            return unschedulable(NAME, REASON, resolvable=False)
        return None
