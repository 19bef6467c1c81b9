"""NodeResourcesFit: does the node have room for the pod's requests (and one more pod)?

The node's sums of requests are kept current by the cache (bound and assumed
pods alike), so a check is a handful of integer comparisons. Every missing
resource is one reason, as Kubernetes reports them: "Insufficient cpu",
"Insufficient memory", "Too many pods". Preemption can help, so the rejection
is resolvable. Pods nominated to a node by an earlier preemption count against
it for pods of lower or equal priority, so the room they freed is not taken
by someone else.
"""

from __future__ import annotations

from kubelite.scheduler.columns import Bools, NodeColumns
from kubelite.scheduler.framework import CycleState, Status, unschedulable
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeResourcesFit"


class Fit:
    name = NAME

    def __init__(self, nominated: dict[str, dict[str, PodInfo]] | None = None) -> None:
        # node name -> pods nominated there (shared with the scheduler, which fills it)
        self.nominated = nominated if nominated is not None else {}

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        cpu, mem, eph, npods = node.req_cpu, node.req_memory, node.req_ephemeral, len(node.pods)
        if self.nominated:
            for other in self.nominated.get(node.name, {}).values():
                if other.priority >= pod.priority and other.key != pod.key and other.key not in node.pods:
                    cpu, mem, eph, npods = cpu + other.milli_cpu, mem + other.memory, eph + other.ephemeral, npods + 1
        reasons: list[str] = []
        if npods + 1 > node.alloc_pods:
            reasons.append("Too many pods")
        if pod.milli_cpu and pod.milli_cpu + cpu > node.alloc_cpu:
            reasons.append("Insufficient cpu")
        if pod.memory and pod.memory + mem > node.alloc_memory:
            reasons.append("Insufficient memory")
        if pod.ephemeral and pod.ephemeral + eph > node.alloc_ephemeral:
            reasons.append("Insufficient ephemeral-storage")
        for k, v in pod.scalars.items():
            if v and v + node.req_scalars.get(k, 0) > node.alloc_scalars.get(k, 0):
                reasons.append(f"Insufficient {k}")
        if reasons:
            return unschedulable(NAME, *reasons)
        return None

    def pass_mask(self, state: CycleState, pod: PodInfo, columns: NodeColumns) -> Bools | bool | None:
        """The rows that have room, for pods of cpu, memory and pods only while nothing is nominated."""
        if self.nominated or pod.ephemeral or pod.scalars:
            return None
        mask = columns.free_pods > 0
        if pod.milli_cpu:
            mask &= columns.free_cpu >= pod.milli_cpu
        if pod.memory:
            mask &= columns.free_memory >= pod.memory
        return mask

    def filter_all(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                   statuses: dict[str, Status]) -> list[NodeInfo]:
        if self.nominated or pod.ephemeral or pod.scalars:
            out = []
            for n in nodes:
                st = self.filter(state, pod, n)
                if st is None:
                    out.append(n)
                else:
                    statuses[n.name] = st
            return out
        # the common case inline: pods, cpu and memory only, nothing nominated
        cpu, mem = pod.milli_cpu, pod.memory
        if cpu and mem:
            out = [n for n in nodes if n.free_pods > 0 and cpu <= n.free_cpu and mem <= n.free_memory]
        else:
            out = [n for n in nodes if n.free_pods > 0 and (not cpu or cpu <= n.free_cpu)
                   and (not mem or mem <= n.free_memory)]
        if len(out) < len(nodes):
            passed = {id(n) for n in out}
            for n in nodes:
                if id(n) not in passed:
                    st = self.filter(state, pod, n)
                    assert st is not None  # the same test, spelled out with reasons
                    statuses[n.name] = st
        return out


def fits(pod: PodInfo, node: NodeInfo) -> bool:
    """The same check without nominations or reasons, for preemption's what-ifs."""
    return Fit().filter(CycleState(), pod, node) is None
