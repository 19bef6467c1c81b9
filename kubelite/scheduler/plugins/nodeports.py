"""NodePorts: two pods cannot take the same host port and protocol on overlapping host IPs
(``0.0.0.0`` overlaps every address)."""

from __future__ import annotations

from kubelite.scheduler.framework import SKIP, CycleState, Status, unschedulable
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodePorts"
REASON = "node(s) didn't have free ports for the requested pod ports"
ANY = "0.0.0.0"


def conflicts(pod: PodInfo, node: NodeInfo) -> bool:
    for ip, proto, port in pod.host_ports:
        used = node.ports.get((proto, port))
        if used and (ip == ANY or ANY in used or ip in used):
            return True
    return False


class NodePorts:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if pod.host_ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return unschedulable(NAME, REASON) if conflicts(pod, node) else None
