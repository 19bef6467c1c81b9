"""The nodes' numbers as columns, so a cycle judges and scores hundreds of nodes in a few array operations.

A cycle over 5,000 nodes looks at 500 of them (``percentageOfNodesToScore``);
one Python comparison or score per node was most of the scheduler's CPU, and
mostly waiting on memory, as the NodeInfo objects lie all over the heap. Here
row ``i`` of every array is ``cache.node_infos()[i]``: what Fit compares
(free cpu, memory and pod slots), what the resource scores read (allocatable,
non-zero requests), and whether the node is tainted or cordoned.

A NodeInfo writes its row whenever its sums change (``NodeInfo._free``), so the
columns are always current; the cache builds new columns only when nodes come or
go, as it does its list. A NodeInfo not in the list (a placeholder, a
preemption what-if clone) has no row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from kubelite.scheduler.framework import MAX_NODE_SCORE

if TYPE_CHECKING:
    from kubelite.scheduler.nodeinfo import NodeInfo

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

# CycleState key: (the feasible nodes, their rows), set when Filter ran on the columns, for Score to use them
FEASIBLE_ROWS = "columns/feasible rows"


class NodeColumns:
    def __init__(self, nodes: Sequence[NodeInfo]) -> None:
        n = len(nodes)
        self.free_cpu: Ints = np.zeros(n, np.int64)
        self.free_memory: Ints = np.zeros(n, np.int64)
        self.free_pods: Ints = np.zeros(n, np.int64)
        self.alloc_cpu: Ints = np.zeros(n, np.int64)
        self.alloc_memory: Ints = np.zeros(n, np.int64)
        self.nz_cpu: Ints = np.zeros(n, np.int64)
        self.nz_memory: Ints = np.zeros(n, np.int64)
        self.tainted: Bools = np.zeros(n, np.bool_)
        self.cordoned: Bools = np.zeros(n, np.bool_)
        for row, ni in enumerate(nodes):
            ni.columns, ni.row = self, row
            self.write(row, ni)

    def __len__(self) -> int:
        return len(self.free_cpu)

    def write(self, row: int, ni: NodeInfo) -> None:
        self.free_cpu[row] = ni.free_cpu
        self.free_memory[row] = ni.free_memory
        self.free_pods[row] = ni.free_pods
        self.alloc_cpu[row] = ni.alloc_cpu
        self.alloc_memory[row] = ni.alloc_memory
        self.nz_cpu[row] = ni.nz_cpu
        self.nz_memory[row] = ni.nz_memory
        self.tainted[row] = bool(ni.taints)
        self.cordoned[row] = ni.unschedulable

    def resource_scores(self, rows: Ints, cpu: int, memory: int) -> tuple[Ints, Ints]:
        """LeastAllocated and BalancedAllocation of ``rows`` for a pod of non-zero requests (cpu, memory):
        the same integers as ``resources_score._scores``, for all rows at once."""
        ac, am = self.alloc_cpu[rows], self.alloc_memory[rows]
        rc, rm = self.nz_cpu[rows] + cpu, self.nz_memory[rows] + memory
        ac1, am1 = np.maximum(ac, 1), np.maximum(am, 1)  # no division by zero; those rows score 0 anyway
        least = (np.where((rc <= ac) & (ac > 0), (ac - rc) * MAX_NODE_SCORE // ac1, 0)
                 + np.where((rm <= am) & (am > 0), (am - rm) * MAX_NODE_SCORE // am1, 0)) >> 1
        fc = np.where(ac > 0, np.minimum(rc / ac1, 1.0), 1.0)
        fm = np.where(am > 0, np.minimum(rm / am1, 1.0), 1.0)
        balanced = ((1 - np.abs(fc - fm) / 2) * MAX_NODE_SCORE).astype(np.int64)
        return least, balanced
