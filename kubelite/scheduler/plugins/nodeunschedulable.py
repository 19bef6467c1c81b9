"""NodeUnschedulable: a cordoned node (``spec.unschedulable``) takes only pods that tolerate
``node.kubernetes.io/unschedulable:NoSchedule``."""

from __future__ import annotations

from collections.abc import Callable

from kubelite.scheduler.columns import Bools, NodeColumns
from kubelite.scheduler.framework import CycleState, Status, unschedulable
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo
from kubelite.scheduler.selectors import tolerated

NAME = "NodeUnschedulable"
REASON = "node(s) were unschedulable"
REJECTED = unschedulable(NAME, REASON, resolvable=False)
TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


class NodeUnschedulable:
    name = NAME

    def __init__(self, cordoned: Callable[[], int] | None = None) -> None:
        self.cordoned = cordoned or (lambda: 1)  # how many nodes are cordoned: none, nothing to check

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if node.unschedulable and not tolerated(pod.tolerations, TAINT):
            return REJECTED
        return None

    def pass_mask(self, state: CycleState, pod: PodInfo, columns: NodeColumns) -> Bools | bool | None:
        if not self.cordoned() or tolerated(pod.tolerations, TAINT):
            return True
        return ~columns.cordoned

    def filter_all(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                   statuses: dict[str, Status]) -> list[NodeInfo]:
        if not self.cordoned() or tolerated(pod.tolerations, TAINT):
            return nodes
        for n in nodes:
            if n.unschedulable:
                statuses[n.name] = REJECTED
        return [n for n in nodes if not n.unschedulable]
