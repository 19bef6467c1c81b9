"""NodeAffinity: ``nodeSelector`` and required node affinity filter; preferred node affinity scores.

Both the selector and the terms are compiled once per cycle in PreFilter /
PreScore (see :mod:`kubelite.scheduler.selectors`) and then applied to each
node's labels. A pod with neither is skipped at Filter entirely. The
rejection reason is Kubernetes': "node(s) didn't match Pod's node
affinity/selector", unresolvable.
"""

from __future__ import annotations

from kubelite.scheduler.framework import SKIP, CycleState, Status, default_normalize, unschedulable
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo
from kubelite.scheduler.selectors import NodeMatcher, node_selector, node_selector_term

NAME = "NodeAffinity"
REASON = "node(s) didn't match Pod's node affinity/selector"


def required_matcher(pod: PodInfo) -> NodeMatcher | None:
    """The pod's nodeSelector AND required node affinity as one predicate; None when it has neither."""
    spec = pod.pod.get("spec") or {}
    sel: dict[str, str] = spec.get("nodeSelector") or {}
    req = ((pod.affinity.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = req.get("nodeSelectorTerms")
    if not sel and terms is None:
        return None
    items = list(sel.items())
    by_terms = node_selector(terms) if terms is not None else None

    def match(labels: dict[str, str] | object, name: str) -> bool:
        assert isinstance(labels, dict)
        for k, v in items:
            if labels.get(k) != v:
                return False
        return by_terms is None or by_terms(labels, name)
    return match


class NodeAffinity:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        m = required_matcher(pod)
        if m is None:
            return SKIP
        state.data[NAME] = m
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        m: NodeMatcher = state.data[NAME]
        if m(node.labels, node.name):
            return None
        return unschedulable(NAME, REASON, resolvable=False)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        prefs = (pod.affinity.get("nodeAffinity") or {}).get("preferredDuringSchedulingIgnoredDuringExecution")
        if not prefs:
            return SKIP
        state.data[NAME + "/score"] = [(int(p.get("weight") or 0), node_selector_term(p.get("preference") or {}))
                                       for p in prefs]
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return sum(w for w, m in state.data[NAME + "/score"] if m(node.labels, node.name))

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize(scores)
