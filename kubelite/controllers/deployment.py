"""The Deployment controller: rollouts of a pod template through ReplicaSets (kube's ``deployment_controller.go``).

This module is the wiring: which changes wake which Deployment, and the order
of one sync; one sync's steps are in :mod:`deployment_sync` and
:mod:`deployment_rollout`, the arithmetic in :mod:`deployutil`.

- A Deployment is woken by its own changes, by changes of the ReplicaSets it
  controls (or orphans its selector matches, which it may adopt), and, for the
  Recreate strategy, by the deletion of its old pods (the new ReplicaSet waits for
  them to be gone).
- One sync claims the ReplicaSets, then: a Deployment being deleted only gets
  status; the Progressing condition follows pause/resume; a paused Deployment or
  a pure replica change is scaled proportionally without rolling; otherwise the
  strategy (RollingUpdate or Recreate) rolls.
- ``kubectl rollout undo`` needs nothing here: kubectl copies an old ReplicaSet's
  template back into the Deployment, and the sync finds that ReplicaSet again by
  template equality and gives it the next revision.
"""

from __future__ import annotations

import copy
from typing import Any

from kubelite.controllers.base import Controller, ControllerContext
from kubelite.controllers.claims import RefManager, selector_matches
from kubelite.controllers.deployment_rollout import rollout_recreate, rollout_rolling
from kubelite.controllers.deployment_sync import DeploymentSync
from kubelite.controllers.informers import NAMESPACE_INDEX
from kubelite.controllers.podcontrol import controller_of

Obj = dict[str, Any]


class DeploymentController(Controller):
    name = "deployment"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.d_informer = ctx.informers.deployments()
        self.rs_informer = ctx.informers.replicasets()
        self.pod_informer = ctx.informers.pods()
        self.d_informer.add_handler(lambda etype, d, old: self.enqueue(d))
        self.rs_informer.add_handler(self._on_rs)
        self.pod_informer.add_handler(self._on_pod)

    # --- handlers ------------------------------------------------------------------------------------

    def _owner(self, obj: Obj, ref: Obj | None) -> Obj | None:
        if ref is None or ref.get("kind") != "Deployment":
            return None
        d = self.d_informer.get(f"{obj['metadata']['namespace']}/{ref.get('name')}")
        return d if d is not None and d["metadata"].get("uid") == ref.get("uid") else None

    def _matching(self, rs: Obj) -> list[Obj]:
        labels = rs["metadata"].get("labels") or {}
        return [d for d in self.d_informer.by_index(NAMESPACE_INDEX, rs["metadata"]["namespace"])
                if selector_matches((d.get("spec") or {}).get("selector") or {}, labels)]

    def _on_rs(self, etype: str, rs: Obj, old: Obj | None) -> None:
        ref = controller_of(rs)
        if etype != "DELETED" and old is not None:
            old_ref = controller_of(old)
            if old_ref is not None and old_ref != ref and (prev := self._owner(old, old_ref)) is not None:
                self.enqueue(prev)
            if ref is None and (old_ref is not None or old["metadata"].get("labels") != rs["metadata"].get("labels")):
                for d in self._matching(rs):
                    self.enqueue(d)
                return
        owner = self._owner(rs, ref)
        if owner is not None:
            self.enqueue(owner)
        elif ref is None and etype == "ADDED":
            for d in self._matching(rs):
                self.enqueue(d)

    def _on_pod(self, etype: str, pod: Obj, old: Obj | None) -> None:
        if etype != "DELETED":
            return
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_informer.get(f"{pod['metadata']['namespace']}/{ref.get('name')}")
        d = self._owner(rs, controller_of(rs)) if rs is not None else None
        if d is not None and ((d.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate":
            self.enqueue(d)

    # --- sync ----------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.d_informer.get(key)
        if cached is None:
            return
        d = copy.deepcopy(cached)
        rss = [copy.deepcopy(rs) for rs in self.rs_informer.by_index(NAMESPACE_INDEX, d["metadata"]["namespace"])]
        rss = await RefManager(self.client, d, ("apps/v1", "deployments"), "apps/v1", "replicasets").claim(rss)
        s = DeploymentSync(self, d, rss)
        if d["metadata"].get("deletionTimestamp"):
            new, old = await s.get_all_rss(False)
            await s.sync_status([*old, new], new)
            return
        await s.check_paused_conditions()
        if (s.d.get("spec") or {}).get("paused"):
            await s.sync()
            return
        if await s.is_scaling_event():
            await s.sync()
            return
        if ((s.d.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate":
            await rollout_recreate(s)
        else:
            await rollout_rolling(s)

