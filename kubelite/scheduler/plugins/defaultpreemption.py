"""DefaultPreemption: when a pod fits nowhere, find the node where evicting the fewest, least important
lower-priority pods makes it fit.

For each node whose rejection preemption could resolve (Code.UNSCHEDULABLE;
taints, selectors and the like cannot be fixed by deleting pods), PostFilter
takes every pod of lower ``spec.priority`` off a copy of the node, checks that
the pod then passes the filters, and puts back as many as it can, highest
priority first (the "reprieve" of kube-scheduler). Among the candidates it
picks, in order: the lowest highest-victim priority, the lowest sum of victim
priorities, the fewest victims. Like kube-scheduler it stops looking once it
has ``max(100, 10% of nodes)`` candidates, starting at a random node, so a
large cluster is not dry-run node by node for every preemptor. The scheduler then deletes the victims and
records ``status.nominatedNodeName`` on the preemptor, which is retried when the
victims are gone (their deletion is a cluster event). PodDisruptionBudgets are
not consulted. PreFilter state of affinity and spread plugins is not
recomputed without the victims (Kubernetes updates it through AddPod/RemovePod).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from kubelite.scheduler.diagnosis import histogram
from kubelite.scheduler.framework import (
    Code,
    CycleState,
    PostFilterResult,
    Status,
    unschedulable,
)
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "DefaultPreemption"
MIN_CANDIDATES, CANDIDATE_PERCENT = 100, 10
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"

RunFilters = Callable[[CycleState, PodInfo, NodeInfo], Status | None]


class DefaultPreemption:
    name = NAME

    def __init__(self, run_filters: RunFilters, get_node: Callable[[str], NodeInfo | None]) -> None:
        self.run_filters = run_filters
        self.get_node = get_node

    def post_filter(self, state: CycleState, pod: PodInfo,
                    statuses: dict[str, Status]) -> tuple[PostFilterResult | None, Status]:
        spec = pod.pod.get("spec") or {}
        if spec.get("preemptionPolicy") == "Never":
            return None, unschedulable(NAME, "preemption: not eligible due to preemptionPolicy=Never.")
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName")
        ni = self.get_node(nominated) if nominated else None
        if ni is not None and any(p.priority < pod.priority and (p.pod.get("metadata") or {}).get("deletionTimestamp")
                                  for p in ni.pods.values()):
            # the victims of an earlier preemption are still going away: wait for them
            return None, unschedulable(NAME, "preemption: not eligible due to a terminating pod on the "
                                             "nominated node.")
        reasons: list[str] = []
        best: tuple[tuple[int, int, int], str, list[PodInfo]] | None = None
        nodes = list(state.all_nodes)
        limit = min(len(nodes), max(MIN_CANDIDATES, len(nodes) * CANDIDATE_PERCENT // 100))
        found = 0
        start = random.randrange(len(nodes)) if nodes else 0
        for node in nodes[start:] + nodes[:start]:
            if found >= limit:
                break
            st = statuses.get(node.name)
            if st is None or st.code != Code.UNSCHEDULABLE:
                reasons.append(NOT_HELPFUL)
                continue
            victims = self.select_victims(state, pod, node)
            if victims is None:
                reasons.append(NO_VICTIMS)
                continue
            found += 1
            key = (max((v.priority for v in victims), default=-(2**31)), sum(v.priority for v in victims),
                   len(victims))
            if best is None or key < best[0]:
                best = (key, node.name, victims)
        if best is None:
            return None, unschedulable(NAME, f"preemption: 0/{len(state.all_nodes)} nodes are available: "
                                             f"{histogram(reasons)}.")
        return PostFilterResult(best[1], best[2]), Status(Code.SUCCESS, (), NAME)

    def select_victims(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> list[PodInfo] | None:
        lower = [p for p in node.pods.values() if p.priority < pod.priority]
        if not lower:
            return None
        what_if = node.clone()
        for p in lower:
            what_if.remove_pod(p.key)
        if self.run_filters(state, pod, what_if) is not None:
            return None
        victims = []
        for p in sorted(lower, key=lambda p: -p.priority):
            what_if.add_pod(p)
            if self.run_filters(state, pod, what_if) is not None:
                what_if.remove_pod(p.key)
                victims.append(p)
        return victims
