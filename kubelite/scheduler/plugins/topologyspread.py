"""PodTopologySpread: keep matching pods evenly spread over topology domains.

For each ``DoNotSchedule`` constraint PreFilter counts the pods matching its
selector (the pod's namespace, ``matchLabelKeys`` folded into the selector) per
value of the topology key, over the nodes that have every constraint's key and
pass the pod's node affinity/selector (``nodeAffinityPolicy: Honor``, the
default). Filter rejects a node when placing the pod there would make its
domain exceed the global minimum by more than ``maxSkew``; a node without the
key is rejected as unresolvable ("missing required label"), as in Kubernetes.
``ScheduleAnyway`` constraints score instead: fewer matching pods in the
node's domain, higher score. ``nodeAffinityPolicy: Ignore`` counts every
node with the key; ``minDomains``: while fewer domains exist, the global
minimum is taken as 0. ``nodeTaintsPolicy: Honor`` is not implemented (the
default, Ignore, applies). Pods without constraints of their own that belong to
a controller get kube-scheduler's system defaults (hostname, maxSkew 3, and
zone, maxSkew 5, both ScheduleAnyway), so a Deployment's replicas spread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kubelite.scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, Status, unschedulable
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo
from kubelite.scheduler.plugins.nodeaffinity import required_matcher
from kubelite.scheduler.selectors import Matcher, label_selector

NAME = "PodTopologySpread"
ERR_MISMATCH = "node(s) didn't match pod topology spread constraints"
ERR_MISSING = "node(s) didn't match pod topology spread constraints (missing required label)"


@dataclass(slots=True)
class Constraint:
    max_skew: int
    key: str
    selector: Matcher
    self_match: int
    honor_affinity: bool = True
    min_domains: int = 1


def constraints_of(pod: PodInfo, hard: bool) -> list[Constraint]:
    out = []
    want = "DoNotSchedule" if hard else "ScheduleAnyway"
    for c in (pod.pod.get("spec") or {}).get("topologySpreadConstraints") or []:
        if c.get("whenUnsatisfiable", "DoNotSchedule") != want:
            continue
        sel = dict(c.get("labelSelector") or {}) if c.get("labelSelector") is not None else None
        if sel is not None and c.get("matchLabelKeys"):
            extra = {k: pod.labels[k] for k in c["matchLabelKeys"] if k in pod.labels}
            sel["matchLabels"] = {**(sel.get("matchLabels") or {}), **extra}
        m = label_selector(sel)
        out.append(Constraint(max(int(c.get("maxSkew") or 1), 1), str(c.get("topologyKey") or ""), m,
                              1 if m(pod.labels) else 0, c.get("nodeAffinityPolicy") != "Ignore",
                              max(int(c.get("minDomains") or 1), 1)))
    return out


# kube-scheduler's system default constraints, for pods that have none of their own and belong to a
# controller: spread its pods over hosts (and zones, where nodes have zones), as a preference.
DEFAULT_CONSTRAINTS = (("kubernetes.io/hostname", 3), ("topology.kubernetes.io/zone", 5))


def default_constraints(pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[Constraint]:
    """The system defaults for ``pod``; Kubernetes selects the pods of the same controllers (their
    selectors), which for a pod made from a template are the pods with the same labels."""
    md = pod.pod.get("metadata") or {}
    if (pod.pod.get("spec") or {}).get("topologySpreadConstraints") or not pod.labels:
        return []
    if not any(o.get("controller") for o in md.get("ownerReferences") or []):
        return []
    sel = label_selector({"matchLabels": dict(pod.labels)})
    return [Constraint(skew, key, sel, 1) for key, skew in DEFAULT_CONSTRAINTS
            if any(key in n.labels for n in nodes)]


def _counts(nodes: list[NodeInfo], pod: PodInfo, cs: list[Constraint]) -> list[dict[str, int]]:
    counts: list[dict[str, int]] = [{} for _ in cs]
    aff = required_matcher(pod)
    for n in nodes:
        if n.node is None or any(c.key not in n.labels for c in cs):
            continue
        fits_affinity = aff is None or aff(n.labels, n.name)
        for i, c in enumerate(cs):
            if c.honor_affinity and not fits_affinity:
                continue
            v = n.labels[c.key]
            matched = sum(1 for p in n.pods.values() if p.namespace == pod.namespace and p.key != pod.key
                          and not (p.pod.get("metadata") or {}).get("deletionTimestamp") and c.selector(p.labels))
            counts[i][v] = counts[i].get(v, 0) + matched
    return counts


class PodTopologySpread:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        cs = constraints_of(pod, hard=True)
        if not cs:
            return SKIP
        counts = _counts(list(state.all_nodes), pod, cs)
        state.data[NAME] = (cs, counts, [min(cnt.values(), default=0) if len(cnt) >= c.min_domains else 0
                                         for c, cnt in zip(cs, counts, strict=True)])
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        cs, counts, mins = state.data[NAME]
        for c, cnt, lo in zip(cs, counts, mins, strict=True):
            v = node.labels.get(c.key)
            if v is None:
                return unschedulable(NAME, ERR_MISSING, resolvable=False)
            if cnt.get(v, 0) + c.self_match - lo > c.max_skew:
                return unschedulable(NAME, ERR_MISMATCH)
        return None

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        cs = constraints_of(pod, hard=False) or default_constraints(pod, state.all_nodes)
        if not cs:
            return SKIP
        counts = _counts(list(state.all_nodes), pod, cs)
        # a constraint over more domains weighs more (log, as Kubernetes does)
        weights = [math.log(len(c) + 2) for c in counts]
        state.data[NAME + "/score"] = (cs, counts, weights)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        cs, counts, weights = state.data[NAME + "/score"]
        total = 0.0
        for c, cnt, w in zip(cs, counts, weights, strict=True):
            v = node.labels.get(c.key)
            if v is None:
                return -1  # marks "no key": lowest score after normalizing
            total += (cnt.get(v, 0) + c.self_match) * w
        return int(total * 1000)

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        valid = [s for s in scores if s >= 0]
        lo, hi = min(valid, default=0), max(valid, default=0)
        for i, s in enumerate(scores):
            if s < 0:
                scores[i] = 0
            else:
                scores[i] = MAX_NODE_SCORE if hi == lo else MAX_NODE_SCORE * (hi - s) // (hi - lo)
