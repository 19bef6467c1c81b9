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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from kubelite.scheduler.cache import Cache
from kubelite.scheduler.columns import FEASIBLE_ROWS, Bools, Ints
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


def _per_node(p: FilterPlugin) -> Callable[[CycleState, PodInfo, list[NodeInfo], dict[str, Status]],
                                          list[NodeInfo]]:
    """A plain Filter plugin made to judge a list of nodes."""
    def run(state: CycleState, pod: PodInfo, nodes: list[NodeInfo], statuses: dict[str, Status]) -> list[NodeInfo]:
        out = []
        for n in nodes:
            st = p.filter(state, pod, n)
            if st is None:
                out.append(n)
            else:
                statuses[n.name] = st
        return out
    return run


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

    def _filter_fns(self, state: CycleState) -> list[Callable[[CycleState, PodInfo, list[NodeInfo],
                                                                dict[str, Status]], list[NodeInfo]]]:
        fns = []
        for p in self.filter:
            if p.name in state.skip_filter:
                continue
            batch = getattr(p, "filter_all", None)
            fns.append(batch if batch is not None else _per_node(p))
        return fns

    def _pass_mask(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Bools | None:
        """The rows every filter lets through on the cache's columns alone (False: ask the plugins about that
        node), or None when some filter has no such test for this pod, or ``nodes`` are not the cache's."""
        n = len(nodes)
        columns = self.cache.columns()
        if nodes is not self.cache.node_infos() or len(columns) != n:
            return None
        mask: Bools | None = None
        for p in self.filter:
            if p.name in state.skip_filter:
                continue
            pass_mask = getattr(p, "pass_mask", None)
            m = pass_mask(state, pod, columns) if pass_mask is not None else None
            if m is None:
                return None
            if m is not True:
                mask = cast(Bools, m) if mask is None else mask & m
        return np.ones(n, np.bool_) if mask is None else mask

    def find_feasible(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                      statuses: dict[str, Status]) -> list[NodeInfo]:
        """The first ``num_feasible_to_find`` feasible nodes from where the last cycle stopped.

        With the cache's columns every filter's test of every node is a few array operations, and only the
        nodes that fail one are put to the plugins one by one, for their verdict and its reason. Otherwise
        plugins run one after the other over chunks of nodes (each node still gets the verdict of the first
        plugin that rejects it); a chunk is what is still wanted, at least 64 nodes, so little is filtered
        beyond the node that completes the sample, and that little is dropped again.
        """
        n = len(nodes)
        if n == 0:
            return []
        want = num_feasible_to_find(n, self.percentage_of_nodes_to_score)
        start = self._next_start % n
        mask = self._pass_mask(state, pod, nodes)
        if mask is not None:
            feasible, processed = self._find_by_rows(state, pod, nodes, mask, start, want, statuses)
        else:
            feasible, processed = self._find_by_plugins(state, pod, nodes, start, want, statuses)
        self._next_start = (start + processed) % n
        return feasible

    def _find_by_rows(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], mask: Bools, start: int,
                      want: int, statuses: dict[str, Status]) -> tuple[list[NodeInfo], int]:
        n = len(nodes)
        rotated = np.concatenate((mask[start:], mask[:start])) if start else mask
        found: list[Ints] = []
        count, pos, processed = 0, 0, n
        while pos < n:
            end = min(pos + max(want - count, 64), n)
            ok = rotated[pos:end].copy()
            checked = []
            for i in np.flatnonzero(~ok).tolist():
                node = nodes[(start + pos + i) % n]
                st = self.run_filters(state, pod, node)
                if st is None:
                    ok[i] = True
                else:
                    statuses[node.name] = st
                    checked.append((i, node.name))
            passing = np.flatnonzero(ok) + pos
            if count + len(passing) >= want:
                passing = passing[:want - count]
                last = int(passing[-1])
                for i, name in checked:  # judged beyond the sample: as if never looked at
                    if pos + i > last:
                        statuses.pop(name, None)
                found.append(passing)
                processed = last + 1
                break
            found.append(passing)
            count += len(passing)
            pos = end
        rows = (np.concatenate(found) + start) % n if found else np.zeros(0, np.int64)
        feasible = list(map(nodes.__getitem__, rows.tolist()))
        state.data[FEASIBLE_ROWS] = (feasible, rows)
        return feasible, processed

    def _find_by_plugins(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], start: int, want: int,
                         statuses: dict[str, Status]) -> tuple[list[NodeInfo], int]:
        n = len(nodes)
        fns = self._filter_fns(state)
        order = nodes[start:] + nodes[:start] if start else nodes
        feasible: list[NodeInfo] = []
        pos = 0
        processed = n
        while pos < n:
            chunk = order[pos:pos + max(want - len(feasible), 64)]
            passing = chunk
            for f in fns:
                if not passing:
                    break
                passing = f(state, pod, passing, statuses)
            if len(feasible) + len(passing) >= want:
                last = passing[want - len(feasible) - 1]
                feasible.extend(passing[:want - len(feasible)])
                cut = chunk.index(last)
                for extra in chunk[cut + 1:]:  # filtered beyond the sample: as if never looked at
                    statuses.pop(extra.name, None)
                processed = pos + cut + 1
                break
            feasible.extend(passing)
            pos += len(chunk)
        return feasible, processed

    # --- score ------------------------------------------------------------------------------------------

    def prioritize(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Ints:
        for p in self.pre_score:
            st = p.pre_score(state, pod, nodes)
            if st is not None and st.code == Code.SKIP:
                state.skip_score.add(p.name)
        totals = np.zeros(len(nodes), np.int64)
        for plugin, weight in self.score:
            if plugin.name in state.skip_score:
                continue
            batch: Callable[[CycleState, PodInfo, list[NodeInfo]], Sequence[int] | Ints] | None = \
                getattr(plugin, "score_all", None)
            scores = batch(state, pod, nodes) if batch else [plugin.score(state, pod, n) for n in nodes]
            normalize: Callable[[CycleState, PodInfo, list[int]], None] | None = getattr(plugin, "normalize", None)
            if normalize is not None:  # getattr, not isinstance on a Protocol: that is slow per cycle
                normalize(state, pod, cast(list[int], scores))
            column = np.asarray(scores, np.int64)
            totals += column * weight if weight != 1 else column
        return totals

    def select_host(self, nodes: list[NodeInfo], totals: Ints) -> NodeInfo:
        """The highest total; among equals, one at random."""
        best = np.flatnonzero(totals == totals.max())
        if len(best) == 1:
            return nodes[int(best[0])]
        return nodes[self.rng.choice(best.tolist())]

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
