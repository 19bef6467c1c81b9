"""The pod garbage collector: kube-controller-manager's ``podgc`` (pkg/controller/podgc, Kubernetes 1.32).

Unlike the other controllers it is not driven by events: kube runs one pass over
every pod each ``gcCheckPeriod`` (20 s, here ``ControllerOptions.pod_gc_period``),
and so does this one. The pass is the single queue key ``gc``, which each pass
queues again one period later: the work queue gives one pass at a time, and stop
needs nothing beyond the base class's. A pass, in kube's order:

1. **terminated** (phase Succeeded or Failed): beyond ``terminated_pod_gc_threshold``
   (kube's ``--terminated-pod-gc-threshold``, 12500; 0 or less disables) the surplus
   is deleted, evicted pods first, then oldest ``creationTimestamp``, then name;
2. **terminating on an out-of-service node**: a pod with a ``deletionTimestamp`` on
   a node that is not Ready and carries the ``node.kubernetes.io/out-of-service``
   taint is force-deleted, since no kubelet will ever finish it;
3. **orphaned**: a pod bound to a node the informer does not know is quarantined
   for ``pod_gc_quarantine`` (kube's 40 s), so a node that is merely late to reach
   the cache is not mistaken for a deleted one; after that the node is looked up
   in the API itself, and only a NotFound condemns its pods. They get the
   ``DisruptionTarget`` condition (``DeletionByPodGC``) as kube 1.32 writes it;
4. **unscheduled terminating**: a pod with a ``deletionTimestamp`` and no node is
   deleted (a finalizer may still hold it; that is the finalizer owner's business).

Every deletion is kube's ``markFailedAndDeletePod``: a pod not yet terminal is
first patched to phase Failed (with the condition, for orphans), because no
kubelet will ever report its end, then deleted with grace period 0. The delete
carries a uid precondition so a namesake created meanwhile is never the victim.
Kube's podgc records no Events, so neither does this one; each deletion is logged.
Per-pod failures are logged and left for the next pass (they are retried by
being still there), as kube's ``HandleError``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterable
from typing import Any

from kubelite.api.client import resource_path
from kubelite.api.meta import now_rfc3339
from kubelite.controllers.base import Controller, ControllerContext
from kubelite.controllers.nodelifecycle import ready_status
from kubelite.controllers.podcontrol import parse_time
from kubelite.errors import KubeliteError, NotFound

log = logging.getLogger(__name__)

Obj = dict[str, Any]
PASS_KEY = "gc"
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
TERMINAL = ("Succeeded", "Failed")
PARALLEL_DELETES = 8  # kube starts a goroutine per pod; a bounded fan-out is kinder to a 2-core server
ORPHAN_CONDITION: Obj = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                         "message": "PodGC: node no longer exists"}


def is_terminated(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL


def is_evicted(pod: Obj) -> bool:
    """kubelet's ``eviction.PodIsEvicted``: Failed with reason Evicted."""
    status = pod.get("status") or {}
    return status.get("phase") == "Failed" and status.get("reason") == "Evicted"


def gc_order(pod: Obj) -> tuple[bool, float, str]:
    """kube's ``byEvictionAndCreationTimestamp``: evicted pods first, then the oldest, names breaking ties."""
    md = pod.get("metadata") or {}
    return (not is_evicted(pod), parse_time(md.get("creationTimestamp")) or 0.0, str(md.get("name") or ""))


def terminated_surplus(pods: Iterable[Obj], threshold: int) -> list[Obj]:
    """The terminated pods to delete so that at most ``threshold`` remain (none when ``threshold`` <= 0)."""
    if threshold <= 0:
        return []
    done = sorted((p for p in pods if is_terminated(p)), key=gc_order)
    return done[:max(0, len(done) - threshold)]


def out_of_service(node: Obj) -> bool:
    """Not Ready and tainted ``node.kubernetes.io/out-of-service`` (any value or effect), as kube checks."""
    taints = (node.get("spec") or {}).get("taints") or []
    return ready_status(node) != "True" and any(t.get("key") == OUT_OF_SERVICE for t in taints)


def with_condition(conditions: list[Obj], cond: Obj) -> list[Obj]:
    """kube's ``UpdatePodCondition``: replace the condition of that type, keeping its transition time if the
    status did not change."""
    old = next((c for c in conditions if c.get("type") == cond["type"]), None)
    stamp = old.get("lastTransitionTime") if old and old.get("status") == cond["status"] else None
    new = {**cond, "lastTransitionTime": stamp or now_rfc3339()}
    return [c for c in conditions if c.get("type") != cond["type"]] + [new]


class PodGCController(Controller):
    name = "pod-garbage-collector"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.pods = ctx.informers.pods()
        self.nodes = ctx.informers.informer("v1", "nodes")
        # node name -> monotonic time it was first seen missing (kube's nodeQueue.AddAfter quarantine)
        self.quarantine: dict[str, float] = {}
        self._limit = asyncio.Semaphore(PARALLEL_DELETES)

    async def start(self) -> None:
        await super().start()
        self.enqueue(PASS_KEY)

    async def sync(self, key: str) -> None:
        try:
            await self._gc()
        finally:
            # the period is kept by the queue itself: no ticker task to stop, and one pass at a time
            self.enqueue_after(PASS_KEY, self.options.pod_gc_period)

    async def _gc(self) -> None:
        pods = self.pods.list()
        await self._all(self._delete(p) for p in terminated_surplus(pods, self.options.terminated_pod_gc_threshold))
        await self._all(self._delete(p) for p in self._terminating_out_of_service(pods))
        for pod in await self._orphans(pods):
            log.info("podgc: deleting orphaned pod %s/%s of vanished node %s", pod["metadata"].get("namespace"),
                     pod["metadata"]["name"], pod["spec"]["nodeName"])
            await self._delete(pod, ORPHAN_CONDITION)
        for pod in pods:
            if pod["metadata"].get("deletionTimestamp") and not (pod.get("spec") or {}).get("nodeName"):
                await self._delete(pod)

    # --- what to delete -----------------------------------------------------------------------------------

    def _terminating_out_of_service(self, pods: list[Obj]) -> list[Obj]:
        out = []
        for pod in pods:
            node = self.nodes.get((pod.get("spec") or {}).get("nodeName") or "")
            if pod["metadata"].get("deletionTimestamp") and node is not None and out_of_service(node):
                out.append(pod)
        return sorted(out, key=gc_order)

    async def _orphans(self, pods: list[Obj]) -> list[Obj]:
        """Pods whose node is absent from the cache for the quarantine and then from the API too."""
        missing = {n for p in pods if (n := (p.get("spec") or {}).get("nodeName")) and self.nodes.get(n) is None}
        now = time.monotonic()
        # a node that came back, or that no pod names any more, leaves quarantine
        self.quarantine = {n: self.quarantine.get(n, now) for n in missing}
        gone: set[str] = set()
        for name, since in list(self.quarantine.items()):
            if now - since < self.options.pod_gc_quarantine:
                continue
            del self.quarantine[name]  # served its time: a later pass starts a fresh one if still needed
            try:
                await self.client.get(resource_path("v1", "nodes", None, name))
            except NotFound:
                gone.add(name)
            except KubeliteError as e:
                log.warning("podgc: cannot tell whether node %s exists: %s", name, e)
        return [p for p in pods if (p.get("spec") or {}).get("nodeName") in gone]

    # --- deleting -----------------------------------------------------------------------------------------

    async def _all(self, deletions: Iterable[Awaitable[None]]) -> None:
        async def bounded(aw: Awaitable[None]) -> None:
            async with self._limit:
                await aw
        await asyncio.gather(*(bounded(d) for d in deletions))

    async def _delete(self, pod: Obj, condition: Obj | None = None) -> None:
        """kube's ``markFailedAndDeletePodWithCondition``; failures are logged, the next pass tries again."""
        md, status = pod["metadata"], pod.get("status") or {}
        path = resource_path("v1", "pods", md.get("namespace"), md["name"])
        try:
            if status.get("phase") not in TERMINAL:
                # no kubelet will report this pod's end: say it failed, and why, before it vanishes
                new: Obj = {"phase": "Failed"}
                if condition is not None:
                    new["conditions"] = with_condition(list(status.get("conditions") or []), condition)
                await self.client.patch(f"{path}/status", {"metadata": {"uid": md["uid"]}, "status": new})
            log.info("podgc: force deleting pod %s/%s", md.get("namespace"), md["name"])
            await self.client.delete(path, {"gracePeriodSeconds": 0, "preconditions": {"uid": md["uid"]}})
        except NotFound:
            pass
        except KubeliteError as e:
            log.warning("podgc: deleting pod %s/%s failed: %s", md.get("namespace"), md["name"], e)
