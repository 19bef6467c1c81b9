"""The DaemonSet controller: one pod per eligible node, rolled out node by node (Kubernetes 1.32's ``daemon``).

A sync of one DaemonSet is level-triggered and follows kube's ``syncDaemonSet``:

1. claim pods: owned pods whose labels left the selector are released, orphans
   matching it are adopted (ownerReferences patches);
2. group the pods by their *target* node (``spec.nodeName``, else the node named by
   the pod's required ``metadata.name`` affinity), so an unbound pod already counts;
3. ``manage``: for every node, :func:`~kubelite.controllers.daemonset_nodes.should_run`
   says whether a pod belongs there; create the missing ones (pinned by node
   affinity, bound later by the scheduler), delete failed or surplus ones and those on
   nodes that no longer qualify;
4. ``RollingUpdate``: pods whose ``controller-revision-hash`` is not the template's
   are replaced within ``maxUnavailable`` (delete first) or ``maxSurge`` (create the
   new pod beside the old, delete the old once the new is available); ``OnDelete``
   replaces only pods the user deleted;
5. write the status counters ``kubectl rollout status ds/x`` reads.

A pod being deleted still occupies its node, so a replacement appears only once
the old pod is gone, as in Kubernetes. Expectations (creates and deletes not yet
seen by the informer) hold back step 3 so a burst of events cannot double-create
pods with generated names. Each template is kept as a ControllerRevision
(:mod:`.history`), for ``kubectl rollout history/undo ds/x``; pods carry its hash.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from typing import Any

from kubelite.api.client import resource_path
from kubelite.controllers.base import NORMAL, WARNING, Controller, ControllerContext
from kubelite.controllers.claims import RefManager, selector_matches
from kubelite.controllers.daemonset_nodes import add_daemon_tolerations, pin_to_node, should_run, target_node
from kubelite.controllers.expectations import ControllerExpectations
from kubelite.controllers.history import (
    REVISION_LABEL,
    HashCollision,
    RevisionHistory,
    bump_collision_count,
    revision_name,
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
from kubelite.errors import NotFound

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def available_in(pod: Obj, min_ready: int, now: float) -> float | None:
    """0 when the pod is available, the seconds until it will be when Ready but young, None when not Ready."""
    since = ready_for(pod, now)
    if since is None:
        return None
    return max(0.0, min_ready - since)


def scaled_value(v: Any, total: int, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``."""
    if isinstance(v, str) and v.endswith("%"):
        try:
            pct = int(v[:-1])
        except ValueError:
            return 0
        return math.ceil(pct * total / 100) if round_up else math.floor(pct * total / 100)
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0


def _created_order(pod: Obj) -> tuple[bool, str, str]:
    """Kube's ``podByCreationTimestampAndPhase``: bound pods first, then oldest, then by name."""
    md = pod.get("metadata") or {}
    return (not (pod.get("spec") or {}).get("nodeName"), md.get("creationTimestamp") or "", md.get("name") or "")


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded")


class DaemonSetController(Controller):
    name = "daemonset"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.dsets = ctx.informers.informer("apps/v1", "daemonsets")
        self.pods = ctx.informers.pods()
        self.nodes = ctx.informers.informer("v1", "nodes")
        self.history = RevisionHistory(self.client, ctx.informers.informer("apps/v1", "controllerrevisions"))
        self.dsets.add_handler(lambda et, ds, old: self.enqueue(ds))
        self.pods.add_handler(self._on_pod)
        self.nodes.add_handler(self._on_node)
        self.expectations = ControllerExpectations()
        # (ds uid, node) -> when the next failed pod there may be killed, and the current back-off step
        self._backoff: dict[tuple[str, str], float] = {}
        self._backoff_step: dict[tuple[str, str], float] = {}

    # --- events --------------------------------------------------------------------------------------

    def _on_pod(self, etype: str, pod: Obj, old: Obj | None) -> None:
        ref = controller_of(pod)
        if ref is not None:
            if ref.get("kind") != "DaemonSet":
                return
            key = f"{pod['metadata'].get('namespace')}/{ref.get('name')}"
            if etype == "ADDED":
                self.expectations.creation_observed(key)
            if etype == "DELETED" or pod["metadata"].get("deletionTimestamp"):
                self.expectations.deletion_observed(key, pod["metadata"].get("uid", ""))
            self.enqueue(key)
            return
        if etype != "DELETED":  # an orphan: the sets that would adopt it
            for ds in self._sets_selecting(pod):
                self.enqueue(ds)

    def _on_node(self, etype: str, node: Obj, old: Obj | None) -> None:
        if old is not None and etype == "MODIFIED":
            keep = ("labels",)
            if all(node["metadata"].get(k) == old["metadata"].get(k) for k in keep) and \
                    (node.get("spec") or {}) == (old.get("spec") or {}):
                return  # status heartbeats change nothing about placement
        for ds in self.dsets.list():
            self.enqueue(ds)

    def _sets_selecting(self, pod: Obj) -> list[Obj]:
        ns, labels = pod["metadata"].get("namespace"), pod["metadata"].get("labels") or {}
        return [ds for ds in self.dsets.list() if ds["metadata"].get("namespace") == ns and
                selector_matches((ds.get("spec") or {}).get("selector") or {}, labels)]

    # --- sync ----------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        ds = self.dsets.get(key)
        if ds is None:
            self.expectations.forget(key)
            return
        if ds["metadata"].get("deletionTimestamp"):
            return
        spec = ds.get("spec") or {}
        rev = template_hash(spec.get("template") or {}, int((ds.get("status") or {}).get("collisionCount") or 0))
        try:
            await self.history.record(ds, spec.get("template") or {}, rev)
        except HashCollision:
            await bump_collision_count(self.client, ds, "daemonsets")
            raise
        candidates = self.pods.by_index(NAMESPACE_INDEX, ds["metadata"]["namespace"])
        pods = await RefManager(self.client, ds, ("apps/v1", "daemonsets"), "v1", "pods").claim(candidates)
        by_node: dict[str, list[Obj]] = {}
        for p in pods:
            node = target_node(p)
            if node is not None:
                by_node.setdefault(node, []).append(p)
        tmpl_spec = (spec.get("template") or {}).get("spec") or {}
        # (shouldRun, shouldContinueRunning) per existing node, decided once per sync
        verdicts = {n["metadata"]["name"]: should_run(tmpl_spec, n) for n in self.nodes.list()}
        if self.expectations.satisfied(key):
            live = {n: [p for p in ps if not (p["metadata"].get("deletionTimestamp") and _terminal(p))]
                    for n, ps in by_node.items()}
            live = {n: ps for n, ps in live.items() if ps}
            deletes, creates = self._manage(ds, live, rev, verdicts)
            strategy = spec.get("updateStrategy") or {}
            if strategy.get("type", "RollingUpdate") == "RollingUpdate" and not deletes and not creates:
                deletes, creates = self._rolling_update(ds, live, rev, verdicts)
            await self._act(key, ds, rev, deletes, creates)
        await self._update_status(ds, by_node, rev, verdicts)
        keep = {revision_name(ds["metadata"]["name"], h) for h in {rev, *(revision_of(p) for p in pods)} if h}
        await self.history.truncate(ds, keep, int(spec.get("revisionHistoryLimit", 10)))

    def _manage(self, ds: Obj, by_node: dict[str, list[Obj]], rev: str,
                verdicts: dict[str, tuple[bool, bool]]) -> tuple[list[Obj], list[str]]:
        """``(pods to delete, nodes needing a pod)``: kube's ``podsShouldBeOnNode`` over every node."""
        surge = self._limits(ds, verdicts)[0] > 0
        deletes: list[Obj] = []
        creates: list[str] = []
        for name, (run, keep) in verdicts.items():
            pods = by_node.get(name, [])
            if run and not pods:
                creates.append(name)
            elif keep:
                running = []
                for p in pods:
                    if p["metadata"].get("deletionTimestamp"):
                        continue
                    if _terminal(p):
                        if self._may_kill_failed(ds, name, p):
                            deletes.append(p)
                    else:
                        running.append(p)
                running.sort(key=_created_order)
                if not surge:
                    deletes += running[1:]
                else:
                    new = [p for p in running if revision_of(p) == rev]
                    old = [p for p in running if revision_of(p) != rev]
                    deletes += new[1:] + old[1:]
            elif pods:
                deletes += [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        # kube's getUnscheduledPodsWithoutNode: an unbound pod pinned to a node that does not exist would never
        # be scheduled; a bound one is the pod garbage collector's (podgc) to delete, as in Kubernetes
        for name, pods in by_node.items():
            if name not in verdicts:
                deletes += [p for p in pods if not p["metadata"].get("deletionTimestamp")
                            and not (p.get("spec") or {}).get("nodeName")]
        return deletes, creates

    def _may_kill_failed(self, ds: Obj, node: str, pod: Obj) -> bool:
        """Delete a failed daemon pod, but back off per node so a crashing daemon is not a hot loop."""
        key = (ds["metadata"]["uid"], node)
        now = time.monotonic()
        until = self._backoff.get(key, 0.0)
        if now < until:
            self.enqueue_after(ds, until - now)
            return False
        step = min(self._backoff_step.get(key, 0.5) * 2, 60.0)
        self._backoff_step[key] = step
        self._backoff[key] = now + step
        self.recorder.event(ds, WARNING, "FailedDaemonPod",
                            f"Found failed daemon pod {pod['metadata']['namespace']}/{pod['metadata']['name']} "
                            f"on node {node}, will try to kill it")
        return True

    @staticmethod
    def _limits(ds: Obj, verdicts: dict[str, tuple[bool, bool]]) -> tuple[int, int]:
        """``(maxSurge, maxUnavailable)`` as pod counts: percentages of the desired number, rounded up."""
        ru = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
        desired = sum(1 for run, _ in verdicts.values() if run)
        max_surge = scaled_value(ru.get("maxSurge") or 0, desired, True)
        max_unavail = scaled_value(ru.get("maxUnavailable", 1), desired, True)
        if max_surge == 0 and max_unavail == 0:
            max_unavail = 1  # kube's fallback, so an update can always progress
        return max_surge, max_unavail

    def _rolling_update(self, ds: Obj, by_node: dict[str, list[Obj]], rev: str,
                        verdicts: dict[str, tuple[bool, bool]]) -> tuple[list[Obj], list[str]]:
        """Kube's ``rollingUpdate``: replace old pods within maxUnavailable, or surge within maxSurge."""
        spec = ds.get("spec") or {}
        max_surge, max_unavail = self._limits(ds, verdicts)
        min_ready, now = int(spec.get("minReadySeconds") or 0), time.time()

        def split(pods: list[Obj]) -> tuple[Obj | None, Obj | None, bool]:
            new = [p for p in pods if not p["metadata"].get("deletionTimestamp") and revision_of(p) == rev]
            old = [p for p in pods if not p["metadata"].get("deletionTimestamp") and revision_of(p) != rev]
            return (new[0] if new else None), (old[0] if old else None), len(new) <= 1 and len(old) <= 1

        if max_surge == 0:
            unavailable, replace, candidates = 0, [], []
            for pods in by_node.values():
                new, old, ok = split(pods)
                if not ok or (new is None) == (old is None):
                    unavailable += 1
                elif new is not None:
                    unavailable += 0 if is_pod_available(new, min_ready, now) else 1
                elif old is not None and not is_pod_available(old, min_ready, now):
                    replace.append(old)
                elif old is not None and unavailable < max_unavail:
                    candidates.append(old)
            room = max(0, min(max_unavail - unavailable, len(candidates)))
            return replace + candidates[:room], []
        surged, old_deletes, allowed, candidate_nodes = 0, [], [], []
        for name, pods in by_node.items():
            new, old, ok = split(pods)
            if not ok:
                surged += 1
                continue
            if not verdicts.get(name, (False, False))[0]:
                if old is not None:
                    old_deletes.append(old)
                continue
            if old is None:
                continue
            if new is None:
                if not is_pod_available(old, min_ready, now):
                    allowed.append(name)
                elif surged < max_surge:
                    candidate_nodes.append(name)
            elif not is_pod_available(new, min_ready, now):
                surged += 1
            else:
                old_deletes.append(old)
        room = max(0, min(max_surge - surged, len(candidate_nodes)))
        return old_deletes, allowed + candidate_nodes[:room]

    # --- writes --------------------------------------------------------------------------------------

    def _new_pod(self, ds: Obj, node: str, rev: str) -> Obj:
        tmpl = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
        md, spec = tmpl.get("metadata") or {}, tmpl.get("spec") or {}
        labels = {**(md.get("labels") or {}), REVISION_LABEL: rev,
                  "pod-template-generation": str(ds["metadata"].get("generation", 1))}
        add_daemon_tolerations(spec)
        pin_to_node(spec, node)
        meta = {"generateName": f"{ds['metadata']['name']}-", "namespace": ds["metadata"]["namespace"],
                "labels": labels, "ownerReferences": [controller_ref(ds)]}
        if md.get("annotations"):
            meta["annotations"] = md["annotations"]
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}

    async def _act(self, key: str, ds: Obj, rev: str, deletes: list[Obj], creates: list[str]) -> None:
        if not deletes and not creates:
            return
        ns = ds["metadata"]["namespace"]
        # One record for both (kube's SetExpectations): deletions first, then raise the count of creates.
        self.expectations.expect_deletions(key, [p["metadata"]["uid"] for p in deletes])
        self.expectations.lower(key, adds=-len(creates))
        for node in creates:
            try:
                pod = await self.client.create(resource_path("v1", "pods", ns), self._new_pod(ds, node, rev))
            except Exception as e:
                self.expectations.lower(key, adds=1)
                self.recorder.event(ds, WARNING, "FailedCreate", f"Error creating: {e}")
                raise
            self.recorder.event(ds, NORMAL, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")
        for pod in deletes:
            name = pod["metadata"]["name"]
            try:
                await self.client.delete(resource_path("v1", "pods", ns, name),
                                         {"preconditions": {"uid": pod["metadata"]["uid"]}})
            except NotFound:
                self.expectations.lower(key, deleted=[pod["metadata"]["uid"]])
                continue
            except Exception as e:
                self.expectations.lower(key, deleted=[pod["metadata"]["uid"]])
                self.recorder.event(ds, WARNING, "FailedDelete", f"Error deleting: {e}")
                raise
            self.recorder.event(ds, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}")

    async def _update_status(self, ds: Obj, by_node: dict[str, list[Obj]], rev: str,
                             verdicts: dict[str, tuple[bool, bool]]) -> None:
        spec = ds.get("spec") or {}
        min_ready, now = int(spec.get("minReadySeconds") or 0), time.time()
        desired = current = ready = available = updated = mis = 0
        for name, (run, _) in verdicts.items():
            pods = sorted(by_node.get(name, []), key=_created_order)
            if not run:
                mis += 1 if pods else 0
                continue
            desired += 1
            if not pods:
                continue
            current += 1
            wait = available_in(pods[0], min_ready, now)
            if wait:  # Ready but not yet for minReadySeconds: no event will come when it becomes available
                self.enqueue_after(ds, wait + 0.05)
            ready += 1 if is_pod_ready(pods[0]) else 0
            available += 1 if is_pod_available(pods[0], min_ready, now) else 0
            updated += 1 if revision_of(pods[0]) == rev else 0
        old = ds.get("status") or {}
        status = {**old, "desiredNumberScheduled": desired, "currentNumberScheduled": current,
                  "numberMisscheduled": mis, "numberReady": ready, "numberAvailable": available,
                  "updatedNumberScheduled": updated, "observedGeneration": ds["metadata"].get("generation", 1)}
        status["numberUnavailable"] = desired - available
        if not status["numberUnavailable"]:
            status.pop("numberUnavailable")
        if status == old:
            return
        md = ds["metadata"]
        try:
            await self.client.patch(resource_path("apps/v1", "daemonsets", md["namespace"], md["name"], "status"),
                                    {"status": {**{k: None for k in old if k not in status}, **status}})
        except NotFound:
            pass
