"""One sync of one Deployment: kube's ``pkg/controller/deployment`` (sync.go, rolling.go, recreate.go, progress.go).

A :class:`DeploymentSync` lives for a single ``sync(key)``: it holds the
Deployment and its claimed ReplicaSets, and replaces each with the server's answer
after every write, so later steps of the same sync act on what was just written
(kube's controller does the same with the objects its client returns). Every
decision is made from these objects alone, so a sync cut short anywhere is simply
finished by the next one.

The steps, as in kube: find the new ReplicaSet (the one whose template equals the
Deployment's, ignoring ``pod-template-hash``) and create it when a rollout needs
it; copy annotations and bump ``deployment.kubernetes.io/revision``; then either
scale proportionally (a paused Deployment or a replica change), or roll: surge the
new ReplicaSet within ``maxSurge``, shrink the old ones within ``maxUnavailable``
(Recreate: old ones to zero, wait for their pods to go, then the new one up);
delete ReplicaSets beyond ``revisionHistoryLimit``; and write status with the
Available and Progressing conditions, rescheduling itself for the progress deadline.
The two strategies' step order is in :mod:`deployment_rollout`.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from kubelite.api.client import resource_path
from kubelite.controllers import deployutil as du
from kubelite.controllers.events import NORMAL, WARNING
from kubelite.controllers.podcontrol import controller_of, controller_ref
from kubelite.errors import AlreadyExists, Conflict, KubeliteError, NotFound

if TYPE_CHECKING:
    from kubelite.controllers.deployment import DeploymentController

Obj = dict[str, Any]


class DeploymentSync:
    def __init__(self, ctl: DeploymentController, d: Obj, rs_list: list[Obj]) -> None:
        self.ctl = ctl
        self.d = d
        self.rs_list = rs_list

    # --- small accessors -----------------------------------------------------------------------------

    @property
    def spec(self) -> Obj:
        s: Obj = self.d.get("spec") or {}
        return s

    @property
    def status(self) -> Obj:
        s: Obj = self.d.get("status") or {}
        return s

    def _path(self, plural: str, name: str, sub: str | None = None) -> str:
        return resource_path("apps/v1", plural, self.d["metadata"]["namespace"], name, sub)

    def fresh(self, rs: Obj | None) -> Obj | None:
        """The latest copy this sync holds of ``rs``."""
        if rs is None:
            return None
        uid = rs["metadata"].get("uid")
        return next((r for r in self.rs_list if r["metadata"].get("uid") == uid), rs)

    def event(self, type_: str, reason: str, message: str) -> None:
        self.ctl.recorder.event(self.d, type_, reason, message)

    # --- writes --------------------------------------------------------------------------------------

    async def update_rs(self, rs: Obj) -> Obj:
        out = await self.ctl.client.replace(self._path("replicasets", rs["metadata"]["name"]), rs)
        self.rs_list = [out if r["metadata"].get("uid") == out["metadata"].get("uid") else r for r in self.rs_list]
        return out

    async def write_status(self, status: Obj) -> None:
        if status == self.status:
            return
        self.d = await self.ctl.client.replace(self._path("deployments", self.d["metadata"]["name"], "status"),
                                               {**self.d, "status": status})

    async def set_revision(self, rev: str) -> None:
        """The Deployment's ``deployment.kubernetes.io/revision`` follows its new ReplicaSet's."""
        if ((self.d["metadata"].get("annotations") or {}).get(du.REVISION)) == rev:
            return
        self.d = await self.ctl.client.patch(self._path("deployments", self.d["metadata"]["name"]),
                                             {"metadata": {"annotations": {du.REVISION: rev},
                                                           "resourceVersion": self.d["metadata"]["resourceVersion"]}})

    async def scale_rs(self, rs: Obj, new_scale: int, op: str = "") -> tuple[bool, Obj]:
        """Resize ``rs`` (and refresh its replica annotations); True when its size changed."""
        old = du.spec_replicas(rs)
        copy_ = copy.deepcopy(rs)
        want = du.spec_replicas(self.d)
        annotations_changed = du.set_replicas_annotations(copy_, want, want + du.max_surge(self.d))
        if old == new_scale and not annotations_changed:
            return False, rs
        copy_["spec"]["replicas"] = new_scale
        out = await self.update_rs(copy_)
        if old != new_scale:
            op = op or ("up" if old < new_scale else "down")
            self.event(NORMAL, "ScalingReplicaSet",
                       f"Scaled {op} replica set {rs['metadata']['name']} to {new_scale} from {old}")
        return old != new_scale, out

    async def scale_and_record(self, rs: Obj, new_scale: int) -> tuple[bool, Obj]:
        if du.spec_replicas(rs) == new_scale:
            return False, rs
        return await self.scale_rs(rs, new_scale, "up" if du.spec_replicas(rs) < new_scale else "down")

    # --- the new ReplicaSet --------------------------------------------------------------------------

    def find_new_rs(self) -> Obj | None:
        template = self.spec.get("template") or {}
        for rs in sorted(self.rs_list, key=du.created_key):
            if du.equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template):
                return rs
        return None

    async def get_all_rss(self, create: bool) -> tuple[Obj | None, list[Obj]]:
        """(the new ReplicaSet or None, the old ones); syncs revision annotations on the way."""
        new = self.find_new_rs()
        old = [rs for rs in self.rs_list if rs is not new]
        new = await self.get_new_rs(new, old, create)
        return self.fresh(new), [r for r in (self.fresh(o) for o in old) if r is not None]

    async def get_new_rs(self, existing: Obj | None, old: list[Obj], create: bool) -> Obj | None:
        new_revision = du.max_revision(old) + 1
        if existing is not None:
            rs = copy.deepcopy(existing)
            changed = du.set_new_rs_annotations(self.d, rs, new_revision, exists=True)
            mrs = int(self.spec.get("minReadySeconds") or 0)
            if changed or int(rs["spec"].get("minReadySeconds") or 0) != mrs:
                rs["spec"]["minReadySeconds"] = mrs
                return await self.update_rs(rs)
            await self.set_revision(du.annotations_of(rs).get(du.REVISION, ""))
            status = copy.deepcopy(self.status)
            if du.has_progress_deadline(self.d) and du.condition(status, "Progressing") is None:
                du.set_condition(status, du.new_condition("Progressing", "True", du.FOUND_NEW_RS,
                                                          f'Found new replica set "{rs["metadata"]["name"]}"'))
                await self.write_status(status)
            return existing
        if not create:
            return None
        return await self.create_new_rs(old, new_revision)

    async def create_new_rs(self, old: list[Obj], new_revision: int) -> Obj:
        d, md = self.d, self.d["metadata"]
        template = copy.deepcopy(self.spec.get("template") or {})
        collisions = self.status.get("collisionCount")
        h = du.compute_hash(template, collisions)
        template.setdefault("metadata", {}).setdefault("labels", {})[du.HASH_LABEL] = h
        selector = copy.deepcopy(self.spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[du.HASH_LABEL] = h
        rs: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": f"{md['name']}-{h}", "namespace": md["namespace"],
                                "labels": dict(template["metadata"]["labels"]), "ownerReferences": [controller_ref(d)]},
                   "spec": {"replicas": 0, "minReadySeconds": int(self.spec.get("minReadySeconds") or 0),
                            "selector": selector, "template": template}}
        rs["spec"]["replicas"] = du.new_rs_new_replicas(d, [*old, rs], rs)
        du.set_new_rs_annotations(d, rs, new_revision, exists=False)
        already = False
        try:
            created = await self.ctl.client.create(resource_path("apps/v1", "replicasets", md["namespace"]), rs)
        except AlreadyExists:
            # Our cache may just be behind: if the namesake is ours and equal, it is the one we want.
            found = await self.ctl.client.get(self._path("replicasets", rs["metadata"]["name"]))
            ref = controller_of(found)
            if ref is None or ref.get("uid") != md["uid"] or not du.equal_ignore_hash(
                    found["spec"].get("template") or {}, self.spec.get("template") or {}):
                status = copy.deepcopy(self.status)
                status["collisionCount"] = int(collisions or 0) + 1
                await self.write_status(status)
                raise Conflict(f"hash collision for replica set {rs['metadata']['name']}; "
                               f"collisionCount is now {status['collisionCount']}") from None
            created, already = found, True
        except KubeliteError as e:
            msg = f'Failed to create new replica set "{rs["metadata"]["name"]}": {e}'
            status = copy.deepcopy(self.status)
            if du.has_progress_deadline(d):
                du.set_condition(status, du.new_condition("Progressing", "False", "ReplicaSetCreateError", msg))
                await self.write_status(status)
            self.event(WARNING, "FailedCreate", msg)
            raise
        if not already:
            self.rs_list.append(created)
            n = du.spec_replicas(created)
            if n > 0:
                self.event(NORMAL, "ScalingReplicaSet",
                           f"Scaled up replica set {created['metadata']['name']} from 0 to {n}")
        await self.set_revision(str(new_revision))
        if not already and du.has_progress_deadline(d):
            status = copy.deepcopy(self.status)
            du.set_condition(status, du.new_condition("Progressing", "True", du.NEW_RS_CREATED,
                                                      f'Created new replica set "{created["metadata"]["name"]}"'))
            await self.write_status(status)
        return created

    # --- scaling (paused, or replicas changed) -------------------------------------------------------

    async def is_scaling_event(self) -> bool:
        new, old = await self.get_all_rss(False)
        for rs in du.active([*old, new]):
            raw = du.annotations_of(rs).get(du.DESIRED_REPLICAS)
            if raw is not None and raw.isdigit() and int(raw) != du.spec_replicas(self.d):
                return True
        return False

    async def sync(self) -> None:
        """Scale without rolling: kube's ``sync`` for paused Deployments and replica changes."""
        new, old = await self.get_all_rss(False)
        await self.scale(new, old)
        if self.spec.get("paused"):
            await self.cleanup([r for r in (self.fresh(o) for o in old) if r is not None])
        await self.sync_status(*self.current(new, old))

    def current(self, new: Obj | None, old: list[Obj]) -> tuple[list[Obj | None], Obj | None]:
        new = self.fresh(new)
        return [*(self.fresh(o) for o in old), new], new

    async def scale(self, new: Obj | None, old: list[Obj]) -> None:
        want = du.spec_replicas(self.d)
        old = sorted(old, key=du.by_size_newer)
        live = du.active([*old, new])
        if len(live) <= 1:
            target = live[0] if live else (new if new is not None else (old[0] if old else None))
            if target is not None and du.spec_replicas(target) != want:
                await self.scale_and_record(target, want)
            return
        if du.is_saturated(self.d, new):
            for rs in du.active(list(old)):
                await self.scale_and_record(rs, 0)
            return
        if not du.is_rolling(self.d):
            return
        allowed = want + du.max_surge(self.d) if want > 0 else 0
        to_add = allowed - du.total_replicas(list(live))
        if to_add > 0:
            live.sort(key=du.by_size_newer)
        elif to_add < 0:
            live.sort(key=du.by_size_older)
        added, sizes = 0, {}
        for rs in live:
            share = du.proportion(rs, self.d, to_add, added, int(self.status.get("replicas") or 0)) if to_add else 0
            sizes[rs["metadata"]["name"]] = du.spec_replicas(rs) + share
            added += share
        if live:
            first = live[0]["metadata"]["name"]
            sizes[first] = max(sizes[first] + to_add - added, 0)
        for rs in live:
            await self.scale_rs(rs, sizes[rs["metadata"]["name"]])

    async def cleanup(self, old: list[Obj]) -> None:
        """Delete the oldest idle ReplicaSets beyond ``revisionHistoryLimit``."""
        limit = self.spec.get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old if not rs["metadata"].get("deletionTimestamp")]
        extra = len(alive) - int(limit)
        if extra <= 0:
            return
        for rs in sorted(alive, key=lambda r: (du.revision(r), du.created_key(r)))[:extra]:
            md = rs["metadata"]
            if (du.st(rs, "replicas") or du.spec_replicas(rs)
                    or int(md.get("generation", 1)) > du.st(rs, "observedGeneration")):
                continue
            try:
                await self.ctl.client.delete(self._path("replicasets", md["name"]),
                                             {"preconditions": {"uid": md["uid"]}})
            except NotFound:
                pass

    # --- status --------------------------------------------------------------------------------------

    async def sync_status(self, all_rss: list[Obj | None], new: Obj | None) -> None:
        await self.write_status(du.calculate_status(all_rss, new, self.d))

    async def check_paused_conditions(self) -> None:
        if not du.has_progress_deadline(self.d):
            return
        cond = du.condition(self.status, "Progressing")
        if cond is not None and cond.get("reason") == du.TIMED_OUT:
            return
        paused_cond = cond is not None and cond.get("reason") == du.PAUSED
        status = copy.deepcopy(self.status)
        if self.spec.get("paused") and not paused_cond:
            du.set_condition(status, du.new_condition("Progressing", "Unknown", du.PAUSED, "Deployment is paused"))
        elif not self.spec.get("paused") and paused_cond:
            du.set_condition(status, du.new_condition("Progressing", "Unknown", du.RESUMED, "Deployment is resumed"))
        else:
            return
        await self.write_status(status)

    async def sync_rollout_status(self, all_rss: list[Obj | None], new: Obj | None) -> None:
        d = self.d
        status = du.calculate_status(all_rss, new, d)
        if not du.has_progress_deadline(d):
            du.remove_condition(status, "Progressing")
        cur = du.condition(self.status, "Progressing")
        complete = (status["replicas"] == status["updatedReplicas"] and cur is not None
                    and cur.get("reason") == du.NEW_RS_AVAILABLE)
        what = f'ReplicaSet "{new["metadata"]["name"]}"' if new is not None else f'Deployment "{d["metadata"]["name"]}"'
        if du.has_progress_deadline(d) and not complete:
            if du.deployment_complete(d, status):
                du.set_condition(status, du.new_condition("Progressing", "True", du.NEW_RS_AVAILABLE,
                                                          f"{what} has successfully progressed."))
            elif du.deployment_progressing(d, status):
                cond = du.new_condition("Progressing", "True", du.RS_UPDATED, f"{what} is progressing.")
                if cur is not None and cur.get("status") == "True":
                    cond["lastTransitionTime"] = cur.get("lastTransitionTime", cond["lastTransitionTime"])
                du.remove_condition(status, "Progressing")
                du.set_condition(status, cond)
            elif du.deployment_timed_out(d, status):
                du.set_condition(status, du.new_condition("Progressing", "False", du.TIMED_OUT,
                                                          f"{what} has timed out progressing."))
        failures = [c for rs in ([new] if new is not None else []) + [r for r in all_rss if r is not new and r]
                    for c in (rs.get("status") or {}).get("conditions") or [] if c.get("type") == "ReplicaFailure"]
        if failures:
            f = failures[0]
            du.set_condition(status, du.new_condition("ReplicaFailure", f.get("status", "True"),
                                                      f.get("reason", ""), f.get("message", "")))
        else:
            du.remove_condition(status, "ReplicaFailure")
        if not status.get("conditions"):
            status.pop("conditions", None)
        await self.write_status(status)
        self.requeue_stuck(status)

    def requeue_stuck(self, status: Obj) -> None:
        """Look again when the progress deadline passes: nothing else would wake us."""
        if du.deployment_complete(self.d, status):
            return
        left = du.progress_deadline_left(self.d, status)
        if left is None:
            return
        key = f"{self.d['metadata']['namespace']}/{self.d['metadata']['name']}"
        self.ctl.enqueue_after(key, max(left, 0.0) + 0.5)
