"""Node lifecycle: notice dead nodes, taint them, and evict their pods after their toleration seconds.

Two of kube-controller-manager's controllers in one module, because the second
only acts on what the first writes:

- **node health** (kube's ``node_lifecycle_controller``): a node is alive while its
  Lease in ``kube-node-lease`` is renewed or its Ready condition's heartbeat moves.
  Liveness is judged on the local monotonic clock from the moment a *change* was
  observed (never by comparing the agent's timestamps with ours, so clock skew
  does not matter). After ``node_monitor_grace_period`` without a change, the
  node's Ready and pressure conditions become ``Unknown`` (``NodeStatusUnknown``,
  "Kubelet stopped posting node status."), its pods are marked not Ready, and a
  ``NodeNotReady`` Event is recorded. The node's taints follow its Ready condition:
  ``node.kubernetes.io/unreachable`` (Unknown) or ``node.kubernetes.io/not-ready``
  (False), each with ``NoSchedule`` and ``NoExecute`` effects, and are removed when
  the agent reports Ready again. As kube's TaintNodesByCondition, a Ready node under
  memory, disk or PID pressure (or without network) gets the matching
  ``node.kubernetes.io/*-pressure`` NoSchedule taint, and a cordoned one
  ``node.kubernetes.io/unschedulable``;
- **taint eviction** (kube's ``taint_eviction`` controller): a pod on a node with a
  ``NoExecute`` taint it does not tolerate is deleted at once; one that tolerates
  it with ``tolerationSeconds`` is deleted that long after the taint's
  ``timeAdded``; one that tolerates it without a limit stays. Eviction is an
  ordinary delete (graceful, with a ``TaintManagerEviction`` Event), after which the
  pod no longer counts as active and its ReplicaSet or Job replaces it elsewhere.

Queue keys are node names and ``pod:<namespace>/<name>``; a monitor task enqueues
every node each ``node_monitor_period`` as a safety net, and each sync schedules
the next moment something can change (grace expiry, toleration expiry).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from kubelite.api.client import resource_path
from kubelite.api.informer import object_key
from kubelite.api.meta import now_rfc3339
from kubelite.controllers.base import NORMAL, Controller, ControllerContext
from kubelite.controllers.podcontrol import parse_time
from kubelite.errors import NotFound

Obj = dict[str, Any]

NOT_READY, UNREACHABLE = "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
CONDITION_TAINTS = {"MemoryPressure": "node.kubernetes.io/memory-pressure",
                    "DiskPressure": "node.kubernetes.io/disk-pressure",
                    "PIDPressure": "node.kubernetes.io/pid-pressure",
                    "NetworkUnavailable": "node.kubernetes.io/network-unavailable"}
OWNED_TAINTS = {NOT_READY, UNREACHABLE, UNSCHEDULABLE, *CONDITION_TAINTS.values()}
NODE_LEASE_NAMESPACE = "kube-node-lease"
NODE_INDEX = "node-lifecycle/nodeName"
UNKNOWN_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
EVICTED_MEMORY = 600.0  # seconds an eviction is remembered; the informer shows the deletion long before


def ready_status(node: Obj) -> str:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return str(c.get("status") or "Unknown")
    return "Unknown"


def tolerates(tol: Obj, taint: Obj) -> bool:
    """``v1.Toleration.ToleratesTaint``: effect (empty = all), key (empty with Exists = all), operator."""
    if tol.get("effect") and tol.get("effect") != taint.get("effect"):
        return False
    if tol.get("key") and tol.get("key") != taint.get("key"):
        return False
    if (tol.get("operator") or "Equal") == "Exists":
        return True
    return bool(tol.get("key")) and (tol.get("value") or "") == (taint.get("value") or "")


def eviction_time(pod: Obj, taints: list[Obj]) -> float | None:
    """When the pod must go (epoch seconds; 0 = now), or None if it tolerates every NoExecute taint for ever."""
    tols = (pod.get("spec") or {}).get("tolerations") or []
    when: float | None = None
    for taint in taints:
        matching = [t for t in tols if tolerates(t, taint)]
        if not matching:
            return 0.0
        limits = [t.get("tolerationSeconds") for t in matching]
        if any(s is None for s in limits):
            continue  # tolerated for ever
        added = parse_time(taint.get("timeAdded")) or time.time()
        deadline = added + max(0, min(int(s) for s in limits if s is not None))
        when = deadline if when is None else min(when, deadline)
    return when


class NodeLifecycleController(Controller):
    name = "node-lifecycle"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.nodes = ctx.informers.informer("v1", "nodes")
        self.leases = ctx.informers.informer("coordination.k8s.io/v1", "leases")
        self.pods = ctx.informers.pods()
        self.pods.add_index(NODE_INDEX, lambda p: [n] if (n := (p.get("spec") or {}).get("nodeName")) else [])
        # node name -> (last observed heartbeat signature, monotonic time it was observed)
        self.health: dict[str, tuple[tuple[Any, ...], float]] = {}
        self.nodes.add_handler(self._on_node)
        self.leases.add_handler(self._on_lease)
        self.pods.add_handler(self._on_pod)
        self._monitor: asyncio.Task[None] | None = None
        # uids of pods evicted lately: the cache may still show one undeleted for a moment, and a second
        # eviction would write to a pod that is already going
        self._evicted: dict[str, float] = {}

    async def start(self) -> None:
        await super().start()
        self._monitor = asyncio.create_task(self._monitor_loop(), name="node monitor")

    async def stop(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        await super().stop()

    async def _monitor_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.node_monitor_period)
            for node in self.nodes.list():
                self.enqueue(node)

    # --- observing heartbeats -----------------------------------------------------------------------------

    def _signature(self, name: str) -> tuple[Any, ...]:
        lease = self.leases.get(f"{NODE_LEASE_NAMESPACE}/{name}")
        node = self.nodes.get(name) or {}
        beats = tuple(c.get("lastHeartbeatTime") for c in (node.get("status") or {}).get("conditions") or []
                      if c.get("type") == "Ready")
        return ((lease or {}).get("spec", {}).get("renewTime"), beats)

    def _observe(self, name: str) -> float:
        """Monotonic time of the last heartbeat we saw change for ``name``."""
        sig, now = self._signature(name), time.monotonic()
        seen = self.health.get(name)
        if seen is None or seen[0] != sig:
            self.health[name] = (sig, now)
            return now
        return seen[1]

    def _on_node(self, etype: str, node: Obj, old: Obj | None) -> None:
        name = node["metadata"]["name"]
        if etype == "DELETED":
            self.health.pop(name, None)
            return
        self.enqueue(name)
        if old is None or (old.get("spec") or {}).get("taints") != (node.get("spec") or {}).get("taints"):
            for pod in self.pods.by_index(NODE_INDEX, name):
                self.enqueue(f"pod:{object_key(pod)}")

    def _on_lease(self, etype: str, lease: Obj, old: Obj | None) -> None:
        if lease["metadata"].get("namespace") == NODE_LEASE_NAMESPACE and etype != "DELETED":
            self.enqueue(lease["metadata"]["name"])

    def _on_pod(self, etype: str, pod: Obj, old: Obj | None) -> None:
        if etype != "DELETED" and (pod.get("spec") or {}).get("nodeName"):
            self.enqueue(f"pod:{object_key(pod)}")

    # --- node health -------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        if key.startswith("pod:"):
            await self._sync_pod(key[4:])
            return
        node = self.nodes.get(key)
        if node is None or node["metadata"].get("deletionTimestamp"):
            return
        grace = self.options.node_monitor_grace_period
        silent = time.monotonic() - self._observe(key)
        if silent >= grace and ready_status(node) != "Unknown":
            await self._mark_unknown(node)
            return  # the status write brings this node back through the informer
        if silent < grace:
            self.enqueue_after(key, grace - silent + 0.05)
        await self._sync_taints(node)

    async def _mark_unknown(self, node: Obj) -> None:
        now, conds = now_rfc3339(), []
        present = {c.get("type") for c in (node.get("status") or {}).get("conditions") or []}
        for c in (node.get("status") or {}).get("conditions") or []:
            if c.get("type") in UNKNOWN_CONDITIONS:
                c = {**c, "status": "Unknown", "reason": "NodeStatusUnknown",
                     "message": "Kubelet stopped posting node status.", "lastTransitionTime": now}
            conds.append(c)
        for t in UNKNOWN_CONDITIONS:
            if t not in present:
                conds.append({"type": t, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                              "message": "Kubelet never posted node status.", "lastTransitionTime": now})
        name = node["metadata"]["name"]
        await self.client.patch(resource_path("v1", "nodes", None, name, "status"),
                                {"metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
                                 "status": {"conditions": conds}})
        self.recorder.event(node, NORMAL, "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        for pod in self.pods.by_index(NODE_INDEX, name):
            await self._mark_pod_not_ready(pod)

    async def _mark_pod_not_ready(self, pod: Obj) -> None:
        conds = (pod.get("status") or {}).get("conditions") or []
        if pod["metadata"].get("deletionTimestamp") or \
                not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
            return
        now = now_rfc3339()
        new = [{**c, "status": "False", "lastTransitionTime": now} if c.get("type") == "Ready" else c for c in conds]
        md = pod["metadata"]
        with contextlib.suppress(NotFound):
            await self.client.patch(resource_path("v1", "pods", md["namespace"], md["name"], "status"),
                                    {"status": {"conditions": new}})
        self.recorder.event(pod, "Warning", "NodeNotReady", "Node is not ready")

    @staticmethod
    def wanted_taints(node: Obj) -> set[tuple[str, str]]:
        """The (key, effect) taints this controller owns that ``node`` should carry now."""
        status = ready_status(node)
        want = {NOT_READY} if status == "False" else {UNREACHABLE} if status == "Unknown" else set()
        out = {(k, e) for k in want for e in ("NoSchedule", "NoExecute")}
        # TaintNodesByCondition: pressure and cordoning keep new pods away (NoSchedule only)
        conds = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
        if status == "True":
            out |= {(key, "NoSchedule") for cond, key in CONDITION_TAINTS.items() if conds.get(cond) == "True"}
        if (node.get("spec") or {}).get("unschedulable"):
            out.add((UNSCHEDULABLE, "NoSchedule"))
        return out

    async def _sync_taints(self, node: Obj) -> None:
        taints: list[Obj] = list((node.get("spec") or {}).get("taints") or [])
        ours = {(t.get("key"), t.get("effect")) for t in taints if t.get("key") in OWNED_TAINTS}
        wanted = self.wanted_taints(node)
        if ours == wanted:
            return
        now = now_rfc3339()
        kept = [t for t in taints if (t.get("key"), t.get("effect")) not in ours - wanted]
        for key, effect in sorted(wanted - ours):
            taint: Obj = {"key": key, "effect": effect}
            if effect == "NoExecute":
                taint["timeAdded"] = now
            kept.append(taint)
        await self.client.patch(resource_path("v1", "nodes", None, node["metadata"]["name"]),
                                {"metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
                                 "spec": {"taints": kept or None}})

    # --- taint eviction ----------------------------------------------------------------------------------

    async def _sync_pod(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None or pod["metadata"].get("deletionTimestamp") or \
                (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        node = self.nodes.get((pod.get("spec") or {}).get("nodeName") or "")
        if node is None:
            return
        taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        when = eviction_time(pod, taints) if taints else None
        if when is None:
            return
        wait = when - time.time()
        if wait > 0:
            self.enqueue_after(f"pod:{key}", wait + 0.05)
            return
        md = pod["metadata"]
        now = time.monotonic()
        if md["uid"] in self._evicted:
            return
        self._evicted = {u: t for u, t in self._evicted.items() if now - t < EVICTED_MEMORY}
        self._evicted[md["uid"]] = now
        self.recorder.event(pod, NORMAL, "TaintManagerEviction", f"Marking for deletion Pod {key}")
        # kube 1.32 marks why the pod goes (PodDisruptionConditions) before deleting it
        conds = [c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") != "DisruptionTarget"]
        conds.append({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                      "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": now_rfc3339()})
        try:
            await self.client.patch(resource_path("v1", "pods", md["namespace"], md["name"], "status"),
                                    {"status": {"conditions": conds}})
            await self.client.delete(resource_path("v1", "pods", md["namespace"], md["name"]),
                                     {"preconditions": {"uid": md["uid"]}})
        except NotFound:
            pass
        except BaseException:
            self._evicted.pop(md["uid"], None)  # not done: the retry must try again
            raise
