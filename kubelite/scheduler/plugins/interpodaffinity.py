"""InterPodAffinity: required pod affinity and anti-affinity (both directions) filter; preferred terms score.

PreFilter walks the cluster once per pod and reduces everything to counts per
topology pair ``(topologyKey, value)``:

- pairs where an existing pod's required anti-affinity term matches the
  incoming pod (the pod must not land in that domain);
- for each of the incoming pod's required affinity / anti-affinity terms, the
  pairs that hold a matching pod.

Filter then only looks up the node's own labels. As in Kubernetes, a pod whose
affinity term matches no pod anywhere may still go where the term's topology
key exists if the term matches the pod itself (the first pod of a group that
wants to be together). It skips entirely when the pod has no terms and no pod
in the cluster has required anti-affinity (the cache counts those).

Namespaces: a term applies to its ``namespaces`` or, when empty, the pod's own
namespace; an empty ``namespaceSelector`` ({}) means every namespace. A
non-empty namespaceSelector would need Namespace labels the scheduler does not
watch; it is treated as matching the listed namespaces only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kubelite.scheduler.framework import SKIP, CycleState, Status, unschedulable
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo
from kubelite.scheduler.selectors import Matcher, label_selector

NAME = "InterPodAffinity"
ERR_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_ANTI = "node(s) didn't match pod anti-affinity rules"
ERR_EXISTING_ANTI = "node(s) didn't satisfy existing pods anti-affinity rules"
REQ, PREF = "requiredDuringSchedulingIgnoredDuringExecution", "preferredDuringSchedulingIgnoredDuringExecution"
Pair = tuple[str, str]


@dataclass(slots=True)
class Term:
    topology_key: str
    selector: Matcher
    namespaces: frozenset[str] | None  # None: every namespace
    weight: int = 0

    def matches(self, pod: PodInfo) -> bool:
        return (self.namespaces is None or pod.namespace in self.namespaces) and self.selector(pod.labels)


def compile_term(owner: PodInfo, term: dict[str, object], weight: int = 0) -> Term:
    ns = term.get("namespaces") or []
    assert isinstance(ns, list)
    ns_sel = term.get("namespaceSelector")
    namespaces: frozenset[str] | None
    if isinstance(ns_sel, dict) and not ns_sel and not ns:
        namespaces = None
    else:
        namespaces = frozenset(str(n) for n in ns) if ns else frozenset([owner.namespace])
    sel = term.get("labelSelector")
    return Term(str(term.get("topologyKey") or ""), label_selector(sel if isinstance(sel, dict) else None),
                namespaces, weight)


def terms_of(pod: PodInfo, kind: str, which: str) -> list[Term]:
    raw = (pod.affinity.get(kind) or {}).get(which) or []
    if which == REQ:
        return [compile_term(pod, t) for t in raw]
    return [compile_term(pod, t.get("podAffinityTerm") or {}, int(t.get("weight") or 0)) for t in raw]


@dataclass(slots=True)
class _State:
    forbidden: set[Pair] = field(default_factory=set)
    affinity: list[Term] = field(default_factory=list)
    affinity_counts: list[dict[Pair, int]] = field(default_factory=list)
    anti: list[Term] = field(default_factory=list)
    anti_counts: list[dict[Pair, int]] = field(default_factory=list)
    any_affinity_match: bool = False


def _count(nodes: list[NodeInfo], terms: list[Term], skip: str) -> list[dict[Pair, int]]:
    out: list[dict[Pair, int]] = [{} for _ in terms]
    if not terms:
        return out
    for n in nodes:
        for other in n.pods.values():
            if other.key == skip:
                continue
            for i, t in enumerate(terms):
                v = n.labels.get(t.topology_key)
                if v is not None and t.matches(other):
                    pair = (t.topology_key, v)
                    out[i][pair] = out[i].get(pair, 0) + 1
    return out


class InterPodAffinity:
    name = NAME

    def __init__(self, anti_affinity_pods: Callable[[], int] | None = None) -> None:
        # how many pods in the cache have required anti-affinity (lets PreFilter skip cheaply)
        self.anti_affinity_pods = anti_affinity_pods or (lambda: 1)

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        aff, anti = terms_of(pod, "podAffinity", REQ), terms_of(pod, "podAntiAffinity", REQ)
        if not aff and not anti and not self.anti_affinity_pods():
            return SKIP
        nodes = list(state.all_nodes)
        s = _State(affinity=aff, anti=anti)
        if self.anti_affinity_pods():
            for n in nodes:
                for other in n.with_required_anti_affinity.values():
                    if other.key == pod.key:
                        continue
                    for t in terms_of(other, "podAntiAffinity", REQ):
                        v = n.labels.get(t.topology_key)
                        if v is not None and t.matches(pod):
                            s.forbidden.add((t.topology_key, v))
        s.affinity_counts = _count(nodes, aff, pod.key)
        s.anti_counts = _count(nodes, anti, pod.key)
        s.any_affinity_match = any(s.affinity_counts)
        state.data[NAME] = s
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _State = state.data[NAME]
        labels = node.labels
        for t, counts in zip(s.affinity, s.affinity_counts, strict=True):
            v = labels.get(t.topology_key)
            if v is None:
                return unschedulable(NAME, ERR_AFFINITY, resolvable=False)
            if counts.get((t.topology_key, v), 0) == 0:
                # the first pod of a group that wants to be together may go anywhere the key exists
                if s.any_affinity_match or not all(x.matches(pod) for x in s.affinity):
                    return unschedulable(NAME, ERR_AFFINITY, resolvable=False)
        for t, counts in zip(s.anti, s.anti_counts, strict=True):
            v = labels.get(t.topology_key)
            if v is not None and counts.get((t.topology_key, v), 0) > 0:
                return unschedulable(NAME, ERR_ANTI)
        if s.forbidden and any((k, v) in s.forbidden for k, v in labels.items()):
            return unschedulable(NAME, ERR_EXISTING_ANTI)
        return None

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        pref = terms_of(pod, "podAffinity", PREF)
        anti = terms_of(pod, "podAntiAffinity", PREF)
        if not pref and not anti:
            return SKIP
        for t in anti:
            t.weight = -t.weight
        terms = pref + anti
        scores: dict[Pair, int] = {}
        for i, counts in enumerate(_count(list(state.all_nodes), terms, pod.key)):
            for pair, c in counts.items():
                scores[pair] = scores.get(pair, 0) + terms[i].weight * c
        state.data[NAME + "/score"] = (terms, scores)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        terms, scores = state.data[NAME + "/score"]
        total = 0
        seen: set[Pair] = set()
        for t in terms:
            v = node.labels.get(t.topology_key)
            if v is not None and (t.topology_key, v) not in seen:
                seen.add((t.topology_key, v))
                total += scores.get((t.topology_key, v), 0)
        return total

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        lo, hi = min(scores, default=0), max(scores, default=0)
        for i, s in enumerate(scores):
            scores[i] = (s - lo) * 100 // (hi - lo) if hi > lo else 0
