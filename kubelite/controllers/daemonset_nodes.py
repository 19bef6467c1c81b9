"""Which nodes a DaemonSet's pod belongs on: node selector, required node affinity, taints and tolerations.

The DaemonSet controller decides placement itself (Kubernetes 1.32's
``NodeShouldRunDaemonPod``) and then pins each pod to its node with a required
node affinity on ``metadata.name``, leaving the binding to the scheduler. The
predicates are the scheduler's filters restated for one pod against one node;
they live here, not in ``kubelite.scheduler``, because controllers and the
scheduler are peer layers that may not import each other.

The answer is two booleans, Kubernetes' ``shouldRun``/``shouldContinueRunning``:
a NoSchedule taint the pod does not tolerate keeps a new pod off the node but
leaves a running one alone; an untolerated NoExecute taint, or a selector or
affinity that no longer matches, removes it.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

NAME_FIELD = "metadata.name"

# The tolerations the DaemonSet controller adds to every daemon pod (``AddOrUpdateDaemonPodTolerations``):
# daemons keep running through node trouble and land on cordoned nodes.
DAEMON_TOLERATIONS: list[Obj] = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
HOST_NETWORK_TOLERATION: Obj = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                                "effect": "NoSchedule"}


def add_daemon_tolerations(pod_spec: Obj) -> None:
    """Add the daemon tolerations, replacing a user's toleration of the same key and effect."""
    wanted = list(DAEMON_TOLERATIONS)
    if pod_spec.get("hostNetwork"):
        wanted.append(HOST_NETWORK_TOLERATION)
    tols: list[Obj] = list(pod_spec.get("tolerations") or [])
    for t in wanted:
        tols = [x for x in tols if (x.get("key"), x.get("effect")) != (t["key"], t["effect"])]
        tols.append(dict(t))
    pod_spec["tolerations"] = tols


def pin_to_node(pod_spec: Obj, node: str) -> None:
    """Replace the required node affinity by one term naming ``node`` (``ReplaceDaemonSetPodNodeNameNodeAffinity``).

    The template's own terms were already checked against the node; preferred terms stay as they are.
    """
    affinity = pod_spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": NAME_FIELD, "operator": "In", "values": [node]}]}]}


def target_node(pod: Obj) -> str | None:
    """The node a pod runs on or is pinned to (``GetTargetNodeName``); None when it names no single node."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    req = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = req.get("nodeSelectorTerms") or []
    if len(terms) != 1:
        return None
    for r in terms[0].get("matchFields") or []:
        if r.get("key") == NAME_FIELD and r.get("operator") == "In" and len(r.get("values") or []) == 1:
            return str(r["values"][0])
    return None


def _requirement_matches(req: Obj, value: str | None) -> bool:
    op, values = req.get("operator"), [str(v) for v in req.get("values") or []]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            have, bound = int(value), int(values[0])
        except ValueError:
            return False
        return have > bound if op == "Gt" else have < bound
    return False


def _term_matches(term: Obj, node: Obj) -> bool:
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False  # an empty term matches no node
    labels = (node.get("metadata") or {}).get("labels") or {}
    if not all(_requirement_matches(r, labels.get(r.get("key"))) for r in exprs):
        return False
    name = (node.get("metadata") or {}).get("name")
    return all(r.get("key") == NAME_FIELD and _requirement_matches(r, name) for r in fields)


def fits_affinity(pod_spec: Obj, node: Obj) -> bool:
    """``nodeSelector`` and required node affinity (terms ORed, requirements in a term ANDed)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
        return False
    req = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if not req:
        return True
    return any(_term_matches(t, node) for t in req.get("nodeSelectorTerms") or [])


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """``Toleration.ToleratesTaint``: same effect (or any), then Exists on the key (or any key) or Equal values."""
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    if toleration.get("operator") == "Exists":
        return True
    return (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated(taints: list[Obj], tolerations: list[Obj], effects: tuple[str, ...]) -> Obj | None:
    """The first taint with one of ``effects`` that no toleration tolerates."""
    for taint in taints:
        if taint.get("effect") in effects and not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def should_run(template_spec: Obj, node: Obj) -> tuple[bool, bool]:
    """``(shouldRun, shouldContinueRunning)`` of a daemon pod made from ``template_spec`` on ``node``."""
    spec = dict(template_spec)  # shallow: only the tolerations list is replaced, nothing nested is changed
    add_daemon_tolerations(spec)
    name = (node.get("metadata") or {}).get("name")
    if spec.get("nodeName") and spec["nodeName"] != name:
        return False, False
    if not fits_affinity(spec, node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    tols = spec.get("tolerations") or []
    if untolerated(taints, tols, ("NoSchedule", "NoExecute")) is None:
        return True, True
    return False, untolerated(taints, tols, ("NoExecute",)) is None
