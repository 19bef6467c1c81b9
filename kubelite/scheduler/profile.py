"""A profile: the plugins of one scheduler name, and the scheduling algorithm that runs them.

``Profile.schedule(pod)`` is one scheduling cycle up to the choice of a node:
PreFilter, Filter over a sample of nodes, PostFilter when nothing fits,
PreScore, Score with normalization and weights, and the pick. It is plain
synchronous code over the cache; the scheduler around it does the I/O.

Sampling as kube-scheduler's ``percentageOfNodesToScore``: Filter stops once it
has found ``num_feasible_to_find(n)`` feasible nodes (all of them under 100
nodes, an adaptive share above: 50% minus 1% per 125 nodes, at least 5% and at
least 100 nodes), starting where the previous cycle stopped so every node gets
its turn. A pod that fits nowhere has been tried against every node, so its
diagnosis counts all of them. Ties in the final score are broken at random.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from kubelite.scheduler.cache import Cache
from kubelite.scheduler.diagnosis import fit_error
from kubelite.scheduler.framework import (
    Code,
    CycleState,
    FilterPlugin,
    PostFilterPlugin,
    PostFilterResult,
    PreFilterPlugin,
    PreScorePlugin,
    QueueSortPlugin,
    ReservePlugin,
    ScorePlugin,
    Status,
)
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo

MIN_FEASIBLE = 100
DEFAULT_PERCENTAGE = 50


def num_feasible_to_find(n: int, percentage: int = 0) -> int:
    if n < MIN_FEASIBLE or percentage >= 100:
        return n
    pct = percentage or max(DEFAULT_PERCENTAGE - n // 125, 5)
    return max(n * pct // 100, MIN_FEASIBLE)


@dataclass(slots=True)
class ScheduleResult:
    """Either ``node`` (the pick) or ``message`` and ``statuses`` (why nothing fits), plus preemption's answer."""

    node: str = ""
    evaluated: int = 0
    feasible: int = 0
    message: str = ""
    statuses: dict[str, Status] = field(default_factory=dict)
    failed_plugins: set[str] = field(default_factory=set)
    post_filter: PostFilterResult | None = None
    state: CycleState | None = None


@dataclass
class Profile:
    scheduler_name: str
    cache: Cache
    queue_sort: QueueSortPlugin
    pre_filter: list[PreFilterPlugin] = field(default_factory=list)
    filter: list[FilterPlugin] = field(default_factory=list)
    post_filter: list[PostFilterPlugin] = field(default_factory=list)
    pre_score: list[PreScorePlugin] = field(default_factory=list)
    score: list[tuple[ScorePlugin, int]] = field(default_factory=list)
    reserve: list[ReservePlugin] = field(default_factory=list)
    bind: list[Any] = field(default_factory=list)
    percentage_of_nodes_to_score: int = 0
    rng: random.Random = field(default_factory=random.Random)
    _next_start: int = 0

    # --- filter -----------------------------------------------------------------------------------------

    def run_pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        for p in self.pre_filter:
            st = p.pre_filter(state, pod)
            if st is None:
                continue
            if st.code == Code.SKIP:
                state.skip_filter.add(p.name)
                continue
            return Status(st.code, st.reasons, st.plugin or p.name)
        return None

    def run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        for p in self.filter:
            if p.name in state.skip_filter:
                continue
            st = p.filter(state, pod, node)
            if st is not None:
                return st
        return None

    def find_feasible(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                      statuses: dict[str, Status]) -> list[NodeInfo]:
        n = len(nodes)
        want = num_feasible_to_find(n, self.percentage_of_nodes_to_score)
        filters = [p.filter for p in self.filter if p.name not in state.skip_filter]
        feasible: list[NodeInfo] = []
        start = self._next_start % n if n else 0
        order = nodes[start:] + nodes[:start] if start else nodes
        processed = 0
        for ni in order:
            processed += 1
            for f in filters:
                st = f(state, pod, ni)
                if st is not None:
                    statuses[ni.name] = st
                    break
            else:
                feasible.append(ni)
                if len(feasible) >= want:
                    break
        self._next_start = (start + processed) % n if n else 0
        return feasible

    # --- score ------------------------------------------------------------------------------------------

    def prioritize(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        for p in self.pre_score:
            st = p.pre_score(state, pod, nodes)
            if st is not None and st.code == Code.SKIP:
                state.skip_score.add(p.name)
        totals = [0] * len(nodes)
        for plugin, weight in self.score:
            if plugin.name in state.skip_score:
                continue
            batch: Callable[[CycleState, PodInfo, list[NodeInfo]], list[int]] | None = \
                getattr(plugin, "score_all", None)
            scores = batch(state, pod, nodes) if batch else [plugin.score(state, pod, n) for n in nodes]
            normalize: Callable[[CycleState, PodInfo, list[int]], None] | None = getattr(plugin, "normalize", None)
            if normalize is not None:  # getattr, not isinstance on a Protocol: that is slow per cycle
                normalize(state, pod, scores)
            for i, s in enumerate(scores):
                totals[i] += s * weight
        return totals

    def select_host(self, nodes: list[NodeInfo], totals: list[int]) -> NodeInfo:
        best, ties = -1, 0
        pick = nodes[0]
        for ni, s in zip(nodes, totals, strict=True):
            if s > best:
                best, pick, ties = s, ni, 1
            elif s == best:
                ties += 1
                if self.rng.randrange(ties) == 0:  # reservoir sampling: each tied node equally likely
                    pick = ni
        return pick

    # --- the cycle --------------------------------------------------------------------------------------

    def schedule(self, pod: PodInfo) -> ScheduleResult:
        nodes = cast(list[NodeInfo], self.cache.node_infos())
        state = CycleState(all_nodes=nodes)
        res = ScheduleResult(state=state)
        if not nodes:
            res.message = fit_error(0, {})
            return res
        st = self.run_pre_filter(state, pod)
        if st is not None:
            res.message = fit_error(len(nodes), {}, pre_filter_msg=st.message)
            res.failed_plugins.add(st.plugin)
            return res
        feasible = self.find_feasible(state, pod, nodes, res.statuses)
        res.evaluated = len(res.statuses) + len(feasible)
        res.feasible = len(feasible)
        if not feasible:
            res.failed_plugins = {s.plugin for s in res.statuses.values()}
            post_msg = ""
            for p in self.post_filter:
                result, pst = p.post_filter(state, pod, res.statuses)
                if pst.ok:
                    res.post_filter = result
                    break
                post_msg = pst.message
            res.message = fit_error(len(nodes), res.statuses, post_filter_msg=post_msg)
            return res
        if len(feasible) == 1:
            res.node = feasible[0].name
            return res
        res.node = self.select_host(feasible, self.prioritize(state, pod, feasible)).name
        return res
