"""Resource scores: LeastAllocated (NodeResourcesFit's default strategy) and NodeResourcesBalancedAllocation.

Both use the non-zero requests (a container without requests counts as 100m CPU
and 200Mi), so pods without requests still spread. LeastAllocated prefers the
node with most free CPU and memory (equal weights), BalancedAllocation the
node whose CPU and memory fractions stay closest after placing the pod. Both
score a whole list of nodes in one call (``score_all``) instead of one method
call per node: the same numbers, a tighter loop.
"""

from __future__ import annotations

from kubelite.scheduler.framework import MAX_NODE_SCORE, CycleState
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo


class LeastAllocated:
    name = "NodeResourcesLeastAllocated"

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.score_all(state, pod, [node])[0]

    def score_all(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        pc, pm = pod.nz_cpu, pod.nz_memory
        out = []
        for n in nodes:
            ac, am = n.alloc_cpu, n.alloc_memory
            rc, rm = n.nz_cpu + pc, n.nz_memory + pm
            c = (ac - rc) * MAX_NODE_SCORE // ac if ac and rc <= ac else 0
            m = (am - rm) * MAX_NODE_SCORE // am if am and rm <= am else 0
            out.append((c + m) // 2)
        return out


class BalancedAllocation:
    name = "NodeResourcesBalancedAllocation"

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.score_all(state, pod, [node])[0]

    def score_all(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        pc, pm = pod.nz_cpu, pod.nz_memory
        out = []
        for n in nodes:
            ac, am = n.alloc_cpu, n.alloc_memory
            fc = min((n.nz_cpu + pc) / ac, 1.0) if ac else 1.0
            fm = min((n.nz_memory + pm) / am, 1.0) if am else 1.0
            # the standard deviation of two fractions is half their distance
            out.append(int((1 - abs(fc - fm) / 2) * MAX_NODE_SCORE))
        return out
