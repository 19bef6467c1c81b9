"""The disruption controller: keeps each PodDisruptionBudget's status, the numbers evictions spend.

Kubernetes 1.32's ``disruption`` controller, level-triggered on the budget's
key. One sync reads the budget's pods from the informer cache and writes:

- ``expectedPods``: how many pods there should be. For an integer
  ``minAvailable`` it is simply the number of pods selected; for
  ``maxUnavailable`` or a percentage it is the sum of the desired scale of the
  pods' controllers (a ReplicaSet owned by a Deployment counts as the
  Deployment, StatefulSets and ReplicaSets by ``spec.replicas``), because a
  percentage of the pods that happen to exist would shrink as they are evicted.
  Pods without a controller cannot be scaled: they are left out (with an
  ``UnmanagedPods`` warning, as kube does) and a controller kind without a
  scale makes the sync fail safe;
- ``desiredHealthy`` from ``minAvailable`` (percentages rounded up) or
  ``expectedPods - maxUnavailable``; ``currentHealthy``: Ready pods that are not
  being deleted and not recorded as just disrupted;
- ``disruptionsAllowed = currentHealthy - desiredHealthy`` (never below 0, and
  0 while ``expectedPods`` is 0, so a budget whose pods are only now appearing is
  safe), the ``DisruptionAllowed`` condition (``SufficientPods`` or
  ``InsufficientPods``) and ``observedGeneration``, which evictions wait for;
- ``disruptedPods``: the eviction subresource records each pod it lets go, so
  the pod does not count as healthy while its deletion is on the way; an entry
  is dropped once the pod is gone or being deleted, or after two minutes
  (kube's ``DeletionTimeout``) if the delete never happened, and the sync is
  scheduled for that moment.

A sync that cannot compute the status (a controller kind without a scale, a
controller not found) "fails safe" as kube's ``failSafe``: ``disruptionsAllowed``
0 and the condition ``SyncFailed``, then retries with back-off. The status is
written with a full replace at the cached resourceVersion, so it never
overwrites a disruption an eviction spent in between (that is a Conflict, and
the sync runs again on fresh data).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from typing import Any

from kubelite.api.client import resource_path
from kubelite.api.registry.policy import budget_selects, with_condition
from kubelite.controllers.base import NORMAL, WARNING, Controller, ControllerContext
from kubelite.controllers.informers import NAMESPACE_INDEX
from kubelite.controllers.podcontrol import controller_of, is_pod_ready, parse_time
from kubelite.errors import KubeliteError, NotFound

log = logging.getLogger(__name__)

Obj = dict[str, Any]
DELETION_TIMEOUT = 120.0  # seconds a disrupted pod may take to start its deletion before it counts again
# The kinds whose desired scale a budget can count, with where their informer lives.
SCALED = {"ReplicaSet": ("apps/v1", "replicasets"), "Deployment": ("apps/v1", "deployments"),
          "StatefulSet": ("apps/v1", "statefulsets")}


class SyncFailed(KubeliteError):
    """The status cannot be computed; the budget is made safe (no disruption allowed) and retried."""


def scaled(value: Any, total: int, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``."""
    if isinstance(value, str) and value.endswith("%"):
        pct = int(value[:-1])
        return math.ceil(pct * total / 100) if round_up else math.floor(pct * total / 100)
    return int(value)


class DisruptionController(Controller):
    name = "disruption"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.pdbs = ctx.informers.informer("policy/v1", "poddisruptionbudgets")
        self.pods = ctx.informers.pods()
        self.scaled = {kind: ctx.informers.informer(*where) for kind, where in SCALED.items()}
        self.pdbs.add_handler(lambda et, pdb, old: self.enqueue(pdb))
        self.pods.add_handler(self._on_pod)
        for inf in self.scaled.values():
            inf.add_handler(self._on_scaled)

    # --- events --------------------------------------------------------------------------------------

    def _budgets_in(self, ns: str) -> list[Obj]:
        return self.pdbs.by_index(NAMESPACE_INDEX, ns)

    def _on_pod(self, etype: str, pod: Obj, old: Obj | None) -> None:
        ns = pod["metadata"].get("namespace", "")
        labels = {**((old or {}).get("metadata", {}).get("labels") or {})}
        for pdb in self._budgets_in(ns):
            if budget_selects(pdb, pod["metadata"].get("labels") or {}) or (old and budget_selects(pdb, labels)):
                self.enqueue(pdb)

    def _on_scaled(self, etype: str, obj: Obj, old: Obj | None) -> None:
        if old is not None and (obj.get("spec") or {}).get("replicas") == (old.get("spec") or {}).get("replicas"):
            return  # only the desired scale matters to a budget
        for pdb in self._budgets_in(obj["metadata"].get("namespace", "")):
            self.enqueue(pdb)

    # --- sync ----------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        pdb = self.pdbs.get(key)
        if pdb is None or pdb["metadata"].get("deletionTimestamp"):
            return
        ns = pdb["metadata"]["namespace"]
        pods = [p for p in self.pods.by_index(NAMESPACE_INDEX, ns)
                if budget_selects(pdb, p["metadata"].get("labels") or {})]
        if not pods:
            self.recorder.event(pdb, NORMAL, "NoPods", "No matching pods found")
        try:
            expected, desired = self._expected(pdb, pods)
        except SyncFailed as e:
            self.recorder.event(pdb, WARNING, "CalculateExpectedPodCountFailed",
                                f"Failed to calculate the number of expected pods: {e}")
            await self._write(pdb, self._fail_safe(pdb, str(e)))
            raise
        now = time.time()
        disrupted, recheck = self._disrupted(pdb, pods, now)
        healthy = sum(1 for p in pods if not p["metadata"].get("deletionTimestamp")
                      and p["metadata"]["name"] not in disrupted and is_pod_ready(p))
        allowed = healthy - desired if expected > 0 else 0
        status = copy.deepcopy(pdb.get("status") or {})
        status.update({"currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                       "disruptionsAllowed": max(allowed, 0),
                       "observedGeneration": pdb["metadata"].get("generation", 1)})
        if disrupted:
            status["disruptedPods"] = disrupted
        else:
            status.pop("disruptedPods", None)
        with_condition(status, allowed > 0, "SufficientPods" if allowed > 0 else "InsufficientPods")
        await self._write(pdb, status)
        if recheck is not None:
            self.enqueue_after(pdb, max(0.0, recheck - now) + 0.05)

    def _expected(self, pdb: Obj, pods: list[Obj]) -> tuple[int, int]:
        """``(expectedPods, desiredHealthy)``: kube's ``getExpectedPodCount``."""
        spec = pdb.get("spec") or {}
        max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
        if max_unavailable is not None:
            expected = self._expected_scale(pdb, pods)
            return expected, max(0, expected - scaled(max_unavailable, expected, True))
        if isinstance(min_available, int):
            return len(pods), min_available
        if isinstance(min_available, str):
            expected = self._expected_scale(pdb, pods)
            return expected, scaled(min_available, expected, True)
        return 0, 0

    def _expected_scale(self, pdb: Obj, pods: list[Obj]) -> int:
        """The sum of the desired scale of the pods' controllers, each counted once."""
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            ref = controller_of(pod)
            if ref is None:
                unmanaged.append(pod["metadata"]["name"])
                continue
            uid, replicas = self._scale_of(pod["metadata"]["namespace"], ref)
            scales[uid] = replicas
        if unmanaged:
            self.recorder.event(pdb, WARNING, "UnmanagedPods",
                                f"Pods selected by this PodDisruptionBudget (selector: "
                                f"{(pdb.get('spec') or {}).get('selector')}) were found to be unmanaged. As a "
                                "result, the status of the PDB cannot be calculated correctly, which may result in "
                                "undefined behavior. To account for these pods please set \".spec.minAvailable\" "
                                "field of the PDB to an integer value.")
        return sum(scales.values())

    def _scale_of(self, ns: str, ref: Obj) -> tuple[str, int]:
        """``(uid of the scaled controller, its desired replicas)`` for a pod's controllerRef."""
        kind = str(ref.get("kind") or "")
        inf = self.scaled.get(kind) if str(ref.get("apiVersion") or "") == "apps/v1" else None
        if inf is None:
            raise SyncFailed(f"{ref.get('apiVersion')}/{kind} {ref.get('name')} has no scale subresource; "
                             "use an integer minAvailable for its pods")
        owner = inf.get(f"{ns}/{ref.get('name')}")
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            raise SyncFailed(f"{kind} {ns}/{ref.get('name')} of a selected pod was not found")
        parent = controller_of(owner) if kind == "ReplicaSet" else None
        if parent is not None and parent.get("kind") == "Deployment":
            return self._scale_of(ns, parent)  # a Deployment's ReplicaSets come and go: its scale is what counts
        return str(owner["metadata"]["uid"]), int((owner.get("spec") or {}).get("replicas", 1))

    @staticmethod
    def _disrupted(pdb: Obj, pods: list[Obj], now: float) -> tuple[dict[str, str], float | None]:
        """kube's ``buildDisruptedPodMap``: the recorded pods still counted as disrupted, and when to look again."""
        recorded = (pdb.get("status") or {}).get("disruptedPods") or {}
        keep: dict[str, str] = {}
        recheck: float | None = None
        for pod in pods:
            name = pod["metadata"]["name"]
            if name not in recorded or pod["metadata"].get("deletionTimestamp"):
                continue
            since = parse_time(recorded[name])
            expires = (since or 0.0) + DELETION_TIMEOUT
            if expires <= now:
                log.info("disruption: pod %s/%s was expected to be deleted but it was not",
                         pod["metadata"]["namespace"], name)
                continue
            keep[name] = recorded[name]
            recheck = expires if recheck is None else min(recheck, expires)
        return keep, recheck

    @staticmethod
    def _fail_safe(pdb: Obj, message: str) -> Obj:
        status = copy.deepcopy(pdb.get("status") or {})
        status["disruptionsAllowed"] = 0
        with_condition(status, False, "SyncFailed", message)
        return status

    async def _write(self, pdb: Obj, status: Obj) -> None:
        if status == (pdb.get("status") or {}):
            return
        md = pdb["metadata"]
        body = {**pdb, "status": status}
        try:
            await self.client.replace(resource_path("policy/v1", "poddisruptionbudgets", md["namespace"],
                                                    md["name"], "status"), body)
        except NotFound:
            pass
