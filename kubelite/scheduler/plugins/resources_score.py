"""Resource scores: LeastAllocated (NodeResourcesFit's default strategy) and NodeResourcesBalancedAllocation.

Both use the non-zero requests (a container without requests counts as 100m CPU
and 200Mi), so pods without requests still spread. LeastAllocated prefers the
node with most free CPU and memory (equal weights), BalancedAllocation the
node whose CPU and memory fractions stay closest after placing the pod. Both
score a whole list of nodes in one call (``score_all``) instead of one method
call per node: the same numbers, a tighter loop.

Both scores of a node are computed together and remembered on the node with
the pod's (cpu, memory); the node drops the memo whenever its sums change.
While pods of one shape come (replicas of one workload), most nodes' scores
are a lookup and a comparison instead of the arithmetic; a different pod shape
or any change to the node recomputes. Within one cycle the second of the two
plugins reuses the columns the first computed.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter, itemgetter
from typing import cast

from kubelite.scheduler.columns import FEASIBLE_ROWS, Ints
from kubelite.scheduler.framework import MAX_NODE_SCORE, CycleState
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo

Memo = tuple[tuple[int, int], int, int]
_memo = attrgetter("score_memo")
_least: Callable[[Memo], int] = itemgetter(1)
_balanced: Callable[[Memo], int] = itemgetter(2)


def _scores(n: NodeInfo, shape: tuple[int, int]) -> Memo:
    pc, pm = shape
    ac, am = n.alloc_cpu, n.alloc_memory
    rc, rm = n.nz_cpu + pc, n.nz_memory + pm
    least = ((ac - rc) * MAX_NODE_SCORE // ac if rc <= ac and ac else 0) + \
        ((am - rm) * MAX_NODE_SCORE // am if rm <= am and am else 0) >> 1
    fc = rc / ac if ac else 1.0
    fm = rm / am if am else 1.0
    if fc > 1.0:
        fc = 1.0
    if fm > 1.0:
        fm = 1.0
    # the standard deviation of two fractions is half their distance
    d = fc - fm if fc > fm else fm - fc
    balanced = int((1 - d / 2) * MAX_NODE_SCORE)
    memo = (shape, least, balanced)
    n.score_memo = memo
    return memo


def _columns(state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> tuple[list[int] | Ints, list[int] | Ints]:
    """Both score columns in one pass, kept in the cycle state for whichever plugin asks second."""
    cached = state.data.get(_KEY)
    if cached is not None and cached[0] is nodes:
        return cached[1], cached[2]
    by_rows = state.data.get(FEASIBLE_ROWS)
    if by_rows is not None and by_rows[0] is nodes and nodes:
        columns = nodes[0].columns
        assert columns is not None  # Filter found them on the columns
        least_a, balanced_a = columns.resource_scores(by_rows[1], pod.nz_cpu, pod.nz_memory)
        state.data[_KEY] = (nodes, least_a, balanced_a)
        return least_a, balanced_a
    shape = (pod.nz_cpu, pod.nz_memory)
    memos: list[Memo | None] = list(map(_memo, nodes))
    for i, m in enumerate(memos):
        if m is None or m[0] != shape:
            memos[i] = _scores(nodes[i], shape)
    filled = cast(list[Memo], memos)
    least = list(map(_least, filled))
    balanced = list(map(_balanced, filled))
    state.data[_KEY] = (nodes, least, balanced)
    return least, balanced


_KEY = "NodeResources/scores"


class LeastAllocated:
    name = "NodeResourcesLeastAllocated"

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return int(self.score_all(state, pod, [node])[0])

    def score_all(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int] | Ints:
        return _columns(state, pod, nodes)[0]


class BalancedAllocation:
    name = "NodeResourcesBalancedAllocation"

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return int(self.score_all(state, pod, [node])[0])

    def score_all(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int] | Ints:
        return _columns(state, pod, nodes)[1]
