"""The ReplicaSet controller: keep ``spec.replicas`` active pods matching the selector (kube's ``replica_set.go``).

One sync per ReplicaSet key: read the ReplicaSet and the namespace's active pods
from the caches, claim them (adopt matching orphans, release pods whose labels
moved away), then create or delete the difference and write ``status``.

- Creates go out in slow-start batches (1, 2, 4...), so a template the server
  rejects costs one failed request rather than ``replicas`` of them; at most
  ``BURST_REPLICAS`` per sync.
- Deletes take the pods that matter least first (:func:`podcontrol.deletion_rank`):
  unscheduled, pending, not ready, newest.
- :class:`ControllerExpectations` holds further create/delete decisions back until
  the informer has shown the effect of the last ones, so a burst is never doubled.
- ``availableReplicas`` honours ``minReadySeconds``; a pod that just became ready
  schedules a resync for when it becomes available.
- A failed create or delete sets the ``ReplicaFailure`` condition; the next clean
  sync clears it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kubelite.api.client import resource_path
from kubelite.api.informer import object_key
from kubelite.api.meta import now_rfc3339
from kubelite.controllers.base import Controller, ControllerContext
from kubelite.controllers.claims import RefManager, selector_matches
from kubelite.controllers.expectations import ControllerExpectations
from kubelite.controllers.informers import NAMESPACE_INDEX
from kubelite.controllers.podcontrol import (
    PodControl,
    controller_of,
    deletion_rank,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
)
from kubelite.errors import Conflict, KubeliteError, NotFound

Obj = dict[str, Any]

BURST_REPLICAS = 500


async def slow_start_batch(count: int, initial: int, fn: Callable[[], Awaitable[Any]]) -> tuple[int, Exception | None]:
    """Call ``fn`` ``count`` times in doubling concurrent batches, stopping after a batch with a failure."""
    done, batch = 0, min(count, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        done += batch - len(errors)
        if errors:
            err = errors[0]
            if not isinstance(err, Exception):
                raise err
            return done, err
        batch = min(2 * batch, count - done)
    return done, None


class ReplicaSetController(Controller):
    name = "replicaset"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.rs_informer = ctx.informers.replicasets()
        self.pod_informer = ctx.informers.pods()
        self.expectations = ControllerExpectations()
        self.pod_control = PodControl(self.client, self.recorder)
        self.rs_informer.add_handler(self._on_rs)
        self.pod_informer.add_handler(self._on_pod)

    # --- handlers ------------------------------------------------------------------------------------

    def _on_rs(self, etype: str, rs: Obj, old: Obj | None) -> None:
        if etype == "DELETED":
            self.expectations.forget(object_key(rs))
        self.enqueue(rs)

    def _owner(self, pod: Obj, ref: Obj | None) -> Obj | None:
        if ref is None or ref.get("kind") != "ReplicaSet":
            return None
        rs = self.rs_informer.get(f"{pod['metadata']['namespace']}/{ref.get('name')}")
        return rs if rs is not None and rs["metadata"].get("uid") == ref.get("uid") else None

    def _matching(self, pod: Obj) -> list[Obj]:
        labels = pod["metadata"].get("labels") or {}
        return [rs for rs in self.rs_informer.by_index(NAMESPACE_INDEX, pod["metadata"]["namespace"])
                if selector_matches((rs.get("spec") or {}).get("selector") or {}, labels)]

    def _deleted(self, pod: Obj) -> None:
        rs = self._owner(pod, controller_of(pod))
        if rs is not None:
            self.expectations.deletion_observed(object_key(rs), object_key(pod))
            self.enqueue(rs)

    def _on_pod(self, etype: str, pod: Obj, old: Obj | None) -> None:
        if etype == "DELETED":
            self._deleted(pod)
            return
        if pod["metadata"].get("deletionTimestamp"):
            # A pod being deleted no longer counts: treat it as gone now (kube does the same).
            self._deleted(pod)
            if old is not None and old["metadata"].get("labels") != pod["metadata"].get("labels"):
                self._deleted(old)
            return
        ref = controller_of(pod)
        if etype == "ADDED" or old is None:
            rs = self._owner(pod, ref)
            if rs is not None:
                self.expectations.creation_observed(object_key(rs))
                self.enqueue(rs)
            elif ref is None:
                for rs in self._matching(pod):
                    self.enqueue(rs)
            return
        old_ref = controller_of(old)
        labels_changed = old["metadata"].get("labels") != pod["metadata"].get("labels")
        if old_ref != ref and old_ref is not None:
            prev = self._owner(old, old_ref)
            if prev is not None:
                self.enqueue(prev)
        rs = self._owner(pod, ref)
        if rs is not None:
            self.enqueue(rs)
            mrs = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
            if mrs > 0 and not is_pod_ready(old) and is_pod_ready(pod):
                self.enqueue_after(rs, mrs + 1)  # availability changes without an event: look again then
        elif ref is None and (labels_changed or old_ref != ref):
            for rs in self._matching(pod):
                self.enqueue(rs)

    # --- sync ----------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        rs = self.rs_informer.get(key)
        if rs is None:
            self.expectations.forget(key)
            return
        md = rs["metadata"]
        needs_sync = self.expectations.satisfied(key) and not md.get("deletionTimestamp")
        pods = [p for p in self.pod_informer.by_index(NAMESPACE_INDEX, md["namespace"]) if is_pod_active(p)]
        pods = await RefManager(self.client, rs, ("apps/v1", "replicasets"), "v1", "pods").claim(pods)
        err: Exception | None = None
        diff = 0
        if needs_sync:
            diff = len(pods) - int((rs.get("spec") or {}).get("replicas", 1))
            try:
                await self._manage(key, rs, pods, diff)
            except KubeliteError as e:
                err = e
        new = await self._write_status(rs, self.calculate_status(rs, pods, err, diff))
        if err is not None:
            raise err
        spec, st = new.get("spec") or {}, new.get("status") or {}
        mrs = int(spec.get("minReadySeconds") or 0)
        if mrs > 0 and st.get("readyReplicas") == spec.get("replicas") != st.get("availableReplicas"):
            self.enqueue_after(key, mrs)

    async def _manage(self, key: str, rs: Obj, pods: list[Obj], diff: int) -> None:
        if diff < 0:
            n = min(-diff, BURST_REPLICAS)
            self.expectations.expect_creations(key, n)
            template = (rs.get("spec") or {}).get("template") or {}
            created, err = await slow_start_batch(n, 1, lambda: self.pod_control.create_pod(template, rs))
            if n - created > 0:
                self.expectations.lower(key, adds=n - created)
            if err is not None:
                raise err
        elif diff > 0:
            now = time.time()
            victims = sorted(pods, key=lambda p: deletion_rank(p, now))[:min(diff, BURST_REPLICAS)]
            self.expectations.expect_deletions(key, [object_key(p) for p in victims])
            results = await asyncio.gather(*(self._delete(key, rs, p) for p in victims), return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException):
                    raise r

    async def _delete(self, key: str, rs: Obj, pod: Obj) -> None:
        try:
            await self.pod_control.delete_pod(pod["metadata"]["namespace"], pod["metadata"]["name"], rs)
        except NotFound:
            self.expectations.deletion_observed(key, object_key(pod))
        except KubeliteError:
            self.expectations.deletion_observed(key, object_key(pod))
            raise

    # --- status --------------------------------------------------------------------------------------

    @staticmethod
    def calculate_status(rs: Obj, pods: list[Obj], err: Exception | None, diff: int) -> Obj:
        spec = rs.get("spec") or {}
        tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        mrs, now = int(spec.get("minReadySeconds") or 0), time.time()
        status = dict(rs.get("status") or {})
        status["replicas"] = len(pods)
        status["fullyLabeledReplicas"] = sum(
            all((p["metadata"].get("labels") or {}).get(k) == v for k, v in tlabels.items()) for p in pods)
        status["readyReplicas"] = sum(is_pod_ready(p) for p in pods)
        status["availableReplicas"] = sum(is_pod_available(p, mrs, now) for p in pods)
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
        failure = next((c for c in status.get("conditions") or [] if c.get("type") == "ReplicaFailure"), None)
        if err is not None:
            failure = failure or {"type": "ReplicaFailure", "status": "True",
                                  "reason": "FailedCreate" if diff < 0 else "FailedDelete",
                                  "message": str(err), "lastTransitionTime": now_rfc3339()}
            conditions.append(failure)
        if conditions:
            status["conditions"] = conditions
        else:
            status.pop("conditions", None)
        status["observedGeneration"] = rs["metadata"].get("generation", 1)
        return status

    async def _write_status(self, rs: Obj, status: Obj) -> Obj:
        if rs.get("status") == status:
            return rs
        md = rs["metadata"]
        path = resource_path("apps/v1", "replicasets", md["namespace"], md["name"], "status")
        try:
            return await self.client.replace(path, {**rs, "status": status})
        except Conflict:
            # The cached copy is stale; kube retries once with a fresh read, and so do we.
            fresh = await self.client.get(path.removesuffix("/status"))
            return await self.client.replace(path, {**fresh, "status": status})
