"""NodeName: a pod that names its node fits only there (it is normally bound without the scheduler)."""

from __future__ import annotations

from kubelite.scheduler.framework import SKIP, CycleState, Status, unschedulable
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeName"
REASON = "node(s) didn't match the requested node name"


class NodeName:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if (pod.pod.get("spec") or {}).get("nodeName") else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if (pod.pod.get("spec") or {}).get("nodeName") != node.name:
            return unschedulable(NAME, REASON, resolvable=False)
        return None
