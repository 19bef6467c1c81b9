"""The StatefulSet controller: pods with stable names, made and removed in order (Kubernetes 1.32's ``statefulset``).

A sync of one StatefulSet follows kube's ``StatefulSetControl.UpdateStatefulSet``:

- Pods are ``<set>-<ordinal>`` for ordinals ``start .. start+replicas-1``
  (``spec.ordinals.start``, default 0), with the labels
  ``statefulset.kubernetes.io/pod-name``, ``apps.kubernetes.io/pod-index`` and
  ``controller-revision-hash``, ``hostname`` = the pod name and ``subdomain`` =
  ``spec.serviceName``. Fixed names make creates idempotent: a create the informer
  has not shown yet fails with AlreadyExists instead of doubling a pod, so no
  expectations are needed.
- ``OrderedReady`` (the default) is monotonic: missing pods are created lowest
  ordinal first, each only once every lower one is Running and Ready; pods beyond
  ``replicas`` are deleted highest first, one at a time, each after the previous
  one is gone, and only while the others are healthy. ``Parallel`` creates and
  deletes all at once.
- Failed or finished pods are deleted and recreated under the same name.
- ``RollingUpdate`` replaces pods whose revision is not the update revision from
  the highest ordinal down to ``partition``, one at a time, each waiting for the
  one above to be healthy again; ordinals below ``partition`` keep (and are
  recreated at) the current revision. ``OnDelete`` replaces only pods the user deletes.
- ``status.currentRevision`` becomes ``updateRevision`` once every pod is updated
  and ready, which is when ``kubectl rollout status sts/x`` reports success.

Each template is kept as a ControllerRevision ``<set>-<hash>`` (:mod:`.history`), the
name pods carry and ``status.currentRevision``/``updateRevision`` hold, so the older
template survives a controller restart and ``kubectl rollout history/undo sts/x`` work.
``volumeClaimTemplates`` are ignored: kubelite has no PersistentVolumeClaims.
"""

from __future__ import annotations

import copy
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from kubelite.api.client import resource_path
from kubelite.controllers.base import NORMAL, WARNING, Controller, ControllerContext
from kubelite.controllers.claims import RefManager, selector_matches
from kubelite.controllers.history import (
    REVISION_LABEL,
    HashCollision,
    RevisionHistory,
    bump_collision_count,
    revision_of,
    template_hash,
)
from kubelite.controllers.informers import NAMESPACE_INDEX
from kubelite.controllers.podcontrol import (
    controller_of,
    controller_ref,
    is_pod_available,
    is_pod_ready,
    ready_for,
)
from kubelite.errors import AlreadyExists, KubeliteError, NotFound

log = logging.getLogger(__name__)

Obj = dict[str, Any]
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def ordinal_of(set_name: str, pod: Obj) -> int | None:
    m = re.fullmatch(rf"{re.escape(set_name)}-(\d+)", pod["metadata"].get("name", ""))
    return int(m.group(1)) if m else None


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def running_and_ready(pod: Obj) -> bool:
    return _phase(pod) == "Running" and is_pod_ready(pod)


def healthy(pod: Obj, min_ready: int, now: float) -> bool:
    return running_and_ready(pod) and not _terminating(pod) and is_pod_available(pod, min_ready, now)


@dataclass
class _Plan:
    """What one sync found and did, for the status it writes."""
    update_rev: str
    current_rev: str
    pods: list[Obj]


class StatefulSetController(Controller):
    name = "statefulset"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.sets = ctx.informers.informer("apps/v1", "statefulsets")
        self.pods = ctx.informers.pods()
        self.sets.add_handler(self._on_set)
        self.pods.add_handler(self._on_pod)
        self.history = RevisionHistory(self.client, ctx.informers.informer("apps/v1", "controllerrevisions"))

    def _on_set(self, etype: str, sts: Obj, old: Obj | None) -> None:
        self.enqueue(sts)

    def _on_pod(self, etype: str, pod: Obj, old: Obj | None) -> None:
        ref = controller_of(pod)
        ns = pod["metadata"].get("namespace")
        if ref is not None:
            if ref.get("kind") == "StatefulSet":
                self.enqueue(f"{ns}/{ref.get('name')}")
            return
        if etype != "DELETED":
            labels = pod["metadata"].get("labels") or {}
            for sts in self.sets.list():
                if sts["metadata"].get("namespace") == ns and \
                        selector_matches((sts.get("spec") or {}).get("selector") or {}, labels):
                    self.enqueue(sts)

    # --- sync ----------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        sts = self.sets.get(key)
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return
        md, spec, status = sts["metadata"], sts.get("spec") or {}, sts.get("status") or {}
        template = spec.get("template") or {}
        hash_ = template_hash(template, int(status.get("collisionCount") or 0))
        try:
            update_rev = (await self.history.record(sts, template, hash_))["metadata"]["name"]
        except HashCollision:
            await bump_collision_count(self.client, sts, "statefulsets")
            raise
        current_rev = status.get("currentRevision") or update_rev
        # Kube's isMemberOf: only pods named like the set's are its to adopt or release.
        candidates = [p for p in self.pods.by_index(NAMESPACE_INDEX, md["namespace"])
                      if ordinal_of(md["name"], p) is not None]
        pods = await RefManager(self.client, sts, ("apps/v1", "statefulsets"), "v1", "pods").claim(candidates)
        plan = _Plan(update_rev, current_rev, pods)
        try:
            await self._reconcile(sts, plan)
        finally:
            current_rev = await self._write_status(sts, plan)
        live = {current_rev, update_rev, *(revision_of(p) for p in plan.pods)}
        await self.history.truncate(sts, live, int(spec.get("revisionHistoryLimit", 10)))

    async def _reconcile(self, sts: Obj, plan: _Plan) -> None:
        md, spec = sts["metadata"], sts.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        start = int((spec.get("ordinals") or {}).get("start") or 0)
        monotonic = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        min_ready, now = int(spec.get("minReadySeconds") or 0), time.time()
        by_ordinal: dict[int, Obj] = {}
        for owned in plan.pods:
            ordinal = ordinal_of(md["name"], owned)
            if ordinal is not None:
                by_ordinal[ordinal] = owned
        wanted = range(start, start + replicas)
        condemned = sorted((o for o in by_ordinal if o not in wanted), reverse=True)

        # The first pod, in the order they are processed, that is not healthy blocks monotonic progress.
        first_unhealthy: int | None = None
        for o in [*wanted, *condemned]:
            found = by_ordinal.get(o)
            if found is not None and not healthy(found, min_ready, now):
                first_unhealthy = o
                break

        for ordinal in wanted:
            pod = by_ordinal.get(ordinal)
            if pod is not None and _phase(pod) in ("Failed", "Succeeded") and not _terminating(pod):
                reason = "failed" if _phase(pod) == "Failed" else "terminated"
                self.recorder.event(sts, WARNING, "RecreatingFailedPod" if reason == "failed"
                                    else "RecreatingTerminatedPod",
                                    f"StatefulSet {md['namespace']}/{md['name']} is recreating {reason} Pod "
                                    f"{pod['metadata']['name']}")
                await self._delete(sts, pod)
                if monotonic:
                    return
                continue
            if pod is None:
                await self._create(sts, ordinal, plan)
                if monotonic:
                    return
                continue
            if monotonic and _terminating(pod):
                return  # wait for the old incarnation to go before anything else
            if monotonic and not running_and_ready(pod):
                return
            if monotonic and not is_pod_available(pod, min_ready, now):
                return  # the status pass below schedules the sync for the moment it becomes available
            await self._fix_identity(sts, pod, ordinal)

        for ordinal in condemned:
            pod = by_ordinal[ordinal]
            if _terminating(pod):
                if monotonic:
                    return
                continue
            if monotonic and first_unhealthy is not None and first_unhealthy != ordinal:
                return  # scale down only while every other pod is healthy
            await self._delete(sts, pod)
            if monotonic:
                return

        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return  # OnDelete
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        for ordinal in sorted((o for o in wanted if o in by_ordinal and o >= start + partition), reverse=True):
            pod = by_ordinal[ordinal]
            if revision_of(pod) != plan.update_rev and not _terminating(pod):
                await self._delete(sts, pod)
                return
            if not healthy(pod, min_ready, now):
                return

    # --- pods ----------------------------------------------------------------------------------------

    def _new_pod(self, sts: Obj, ordinal: int, plan: _Plan) -> Obj:
        """Kube's ``newVersionedStatefulSetPod``: below the partition, the current revision's template."""
        md, spec = sts["metadata"], sts.get("spec") or {}
        strategy = spec.get("updateStrategy") or {}
        start = int((spec.get("ordinals") or {}).get("start") or 0)
        rev, template = plan.update_rev, spec.get("template") or {}
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            ru = strategy.get("rollingUpdate")
            limit = int(ru.get("partition") or 0) if ru is not None else \
                int((sts.get("status") or {}).get("currentReplicas") or 0)
            older = self.history.template(sts, plan.current_rev)
            if ordinal < start + limit and older is not None:
                rev, template = plan.current_rev, older
        tmd = template.get("metadata") or {}
        name = f"{md['name']}-{ordinal}"
        labels = {**(tmd.get("labels") or {}), POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal),
                  REVISION_LABEL: rev}
        meta: Obj = {"name": name, "namespace": md["namespace"], "labels": labels,
                     "ownerReferences": [controller_ref(sts)]}
        if tmd.get("annotations"):
            meta["annotations"] = dict(tmd["annotations"])
        pod_spec = copy.deepcopy(template.get("spec") or {})
        pod_spec["hostname"] = name
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}

    async def _create(self, sts: Obj, ordinal: int, plan: _Plan) -> None:
        md = sts["metadata"]
        pod = self._new_pod(sts, ordinal, plan)
        name = pod["metadata"]["name"]
        try:
            created = await self.client.create(resource_path("v1", "pods", md["namespace"]), pod)
        except AlreadyExists:
            return  # made by an earlier sync whose result the informer has not shown yet
        except KubeliteError as e:
            self.recorder.event(sts, WARNING, "FailedCreate",
                                f"create Pod {name} in StatefulSet {md['name']} failed error: {e}")
            raise
        plan.pods.append(created)
        self.recorder.event(sts, NORMAL, "SuccessfulCreate", f"create Pod {name} in StatefulSet {md['name']} "
                            "successful")

    async def _delete(self, sts: Obj, pod: Obj) -> None:
        md, name = sts["metadata"], pod["metadata"]["name"]
        try:
            await self.client.delete(resource_path("v1", "pods", md["namespace"], name),
                                     {"preconditions": {"uid": pod["metadata"]["uid"]}})
        except NotFound:
            return
        except KubeliteError as e:
            self.recorder.event(sts, WARNING, "FailedDelete",
                                f"delete Pod {name} in StatefulSet {md['name']} failed error: {e}")
            raise
        self.recorder.event(sts, NORMAL, "SuccessfulDelete", f"delete Pod {name} in StatefulSet {md['name']} "
                            "successful")

    async def _fix_identity(self, sts: Obj, pod: Obj, ordinal: int) -> None:
        """Kube's ``identityMatches``/``updateIdentity``: put back the identity labels if someone removed them."""
        name = pod["metadata"]["name"]
        labels = pod["metadata"].get("labels") or {}
        want = {POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal)}
        if all(labels.get(k) == v for k, v in want.items()):
            return
        await self.client.patch(resource_path("v1", "pods", sts["metadata"]["namespace"], name),
                                {"metadata": {"labels": want}})

    # --- status --------------------------------------------------------------------------------------

    async def _write_status(self, sts: Obj, plan: _Plan) -> str:
        """Write the status; returns the current revision it holds."""
        md, spec = sts["metadata"], sts.get("spec") or {}
        min_ready, now = int(spec.get("minReadySeconds") or 0), time.time()
        replicas = ready = available = current = updated = 0
        for pod in plan.pods:
            if _phase(pod):
                replicas += 1
            if running_and_ready(pod):
                ready += 1
                if is_pod_available(pod, min_ready, now):
                    available += 1
                else:  # no event will come when it becomes available: look again then
                    self.enqueue_after(sts, max(0.0, min_ready - (ready_for(pod, now) or 0.0)) + 0.05)
            if _phase(pod) and not _terminating(pod):
                current += 1 if revision_of(pod) == plan.current_rev else 0
                updated += 1 if revision_of(pod) == plan.update_rev else 0
        current_rev = plan.current_rev
        strategy = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate")
        if strategy == "RollingUpdate" and updated == replicas and ready == replicas:
            current_rev, current = plan.update_rev, updated  # kube's completeRollingUpdate
        old = sts.get("status") or {}
        status = {**old, "replicas": replicas, "readyReplicas": ready, "availableReplicas": available,
                  "currentReplicas": current, "updatedReplicas": updated, "currentRevision": current_rev,
                  "updateRevision": plan.update_rev, "observedGeneration": md.get("generation", 1),
                  "collisionCount": int(old.get("collisionCount") or 0)}
        if status == old:
            return current_rev
        try:
            await self.client.patch(resource_path("apps/v1", "statefulsets", md["namespace"], md["name"], "status"),
                                    {"status": status})
        except NotFound:
            pass
        return current_rev
