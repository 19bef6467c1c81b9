"""The PodDisruptionBudget check of ``pods/eviction``, as kube-apiserver's eviction REST makes it.

An eviction is a delete that first asks the pod's budget. The order and the
answers follow Kubernetes, because ``kubectl drain`` reads them:

1. a pod that is finished, not yet running (``Pending``) or already being
   deleted can be evicted whatever the budgets say (kube's ``canIgnorePDB``);
2. the budgets of the pod's namespace whose selector matches its labels are
   found (in policy/v1 an empty selector matches every pod, none matches none);
   more than one is a 500 ``InternalError`` (Kubernetes refuses to choose, and
   ``kubectl drain`` reports it without retrying); none lets the eviction through;
3. a pod that is not Ready may go without spending the budget when the budget
   is healthy anyway (``unhealthyPodEvictionPolicy`` ``IfHealthyBudget``, the
   default) or always (``AlwaysAllow``);
4. otherwise one disruption is spent: a budget whose status is older than its
   spec (``observedGeneration < generation``) or has no disruption left is a
   429 ``TooManyRequests`` with a ``DisruptionBudget`` cause (drain retries
   those); else ``disruptionsAllowed`` is decremented and the pod recorded in
   ``disruptedPods`` with a compare-and-swap on the budget, so two evictions
   racing for the last disruption cannot both win. The disruption controller
   forgets a recorded pod once it is gone, or after two minutes if it never
   goes (the delete that followed failed).

The refusals are answered here as ready Status responses: a 429 has no domain
error of its own, and the 500 is Kubernetes' deliberate answer, not a crash.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kubelite.api.errors import ResourceConflict, ResourceForbidden, StatusError
from kubelite.api.registry import REGISTRY
from kubelite.api.registry.base import Obj
from kubelite.api.registry.policy import budget_selects, now, with_condition
from kubelite.api.storage import Selection, Storage, decode, encode
from kubelite.errors import Conflict, NotFound

VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
MORE_THAN_ONE = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
MAX_DISRUPTED_PODS = 2000  # kube's MaxDisruptedPodSize: a budget the controller does not keep up with stops
CAS_RETRIES = 8


def can_ignore_budget(pod: Obj) -> bool:
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    return phase in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [] if isinstance(c, dict))


def too_many_requests(pdb: Obj, cause: str) -> web.Response:
    details: dict[str, Any] = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
    return StatusError(429, "TooManyRequests", VIOLATION, details).response()


async def guard(storage: Storage, ns: str, pod: Obj, dry_run: bool) -> web.Response | None:
    """Spend one disruption of the pod's budget; a refusal's response, or None when the pod may be deleted."""
    if can_ignore_budget(pod):
        return None
    pdbs_kind = REGISTRY.lookup("policy", "v1", "poddisruptionbudgets")
    assert pdbs_kind is not None
    labels = pod["metadata"].get("labels") or {}
    page = await storage.list(pdbs_kind, ns, Selection())
    matching = [p for p in page.items if budget_selects(p, labels)]
    if len(matching) > 1:
        return StatusError(500, "InternalError", f"Internal error occurred: {MORE_THAN_ONE}",
                           {"causes": [{"message": MORE_THAN_ONE}]}).response()
    if not matching:
        return None
    name = matching[0]["metadata"]["name"]
    key = storage.key(pdbs_kind, ns, name)
    for _ in range(CAS_RETRIES):
        try:
            kv = await storage.store.get(key)
        except NotFound:
            return None  # the budget went away between the list and now: nothing protects the pod
        pdb = decode(kv)
        spec, status = pdb.get("spec") or {}, pdb.setdefault("status", {})
        if not is_ready(pod):
            if spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
                return None
            desired = int(status.get("desiredHealthy") or 0)
            if desired > 0 and int(status.get("currentHealthy") or 0) >= desired:
                return None
        if int(status.get("observedGeneration") or 0) < int(pdb["metadata"].get("generation") or 0):
            return too_many_requests(pdb, f"The disruption budget {name} is still being processed by the server.")
        allowed = int(status.get("disruptionsAllowed") or 0)
        if allowed < 0:
            raise ResourceForbidden(pdbs_kind.resource, name, "pdb disruptions allowed is negative")
        disrupted = status.get("disruptedPods") or {}
        if len(disrupted) > MAX_DISRUPTED_PODS:
            raise ResourceForbidden(pdbs_kind.resource, name, "DisruptedPods map too big - too many evictions "
                                                              "not confirmed by PDB controller")
        if allowed == 0:
            return too_many_requests(pdb, f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} "
                                          f"healthy pods and has {status.get('currentHealthy', 0)} currently")
        status["disruptionsAllowed"] = allowed - 1
        if allowed == 1:
            with_condition(status, False, "InsufficientPods")
        status["disruptedPods"] = {**disrupted, pod["metadata"]["name"]: now()}
        if dry_run:
            return None
        try:
            await storage.store.update(key, encode(pdb), expected_revision=kv.mod_revision)
            return None
        except Conflict:
            continue  # someone else spent or refreshed the budget: look again
        except NotFound:
            return None
    raise ResourceConflict(pdbs_kind.resource, name, "too many concurrent updates, please try again")


async def mark_disruption_target(storage: Storage, ns: str, pod: Obj) -> None:
    """The ``DisruptionTarget`` condition kube-apiserver sets before an evicted pod is deleted."""
    pods_kind = REGISTRY.lookup("", "v1", "pods")
    assert pods_kind is not None

    def add(p: Obj) -> Obj:
        status = p.setdefault("status", {})
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
        conds.append({"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
                      "message": "Eviction API: evicting", "lastProbeTime": None, "lastTransitionTime": now()})
        status["conditions"] = conds
        return p

    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return
    await storage.update(pods_kind, ns, pod["metadata"]["name"], add, "status")
