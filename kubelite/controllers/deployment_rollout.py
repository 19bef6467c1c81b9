"""The two rollout strategies of a Deployment sync (kube's ``rolling.go`` and ``recreate.go``).

Functions over a :class:`~kubelite.controllers.deployment_sync.DeploymentSync`, which
holds the Deployment and its ReplicaSets and does the writes; here is only the order
of the steps. A step that changed something ends the sync after writing status: the
change wakes the Deployment again through the informers, and the next sync continues
from what the server then says (level-triggered, as kube's).

- RollingUpdate: grow the new ReplicaSet within ``maxSurge``; else shrink old ones,
  first by their unavailable pods (free), then by available ones while at least
  ``replicas - maxUnavailable`` stay available; once complete, trim history.
- Recreate: old ReplicaSets to zero; wait until none of their pods runs; then the new
  ReplicaSet, created only now, at full size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubelite.controllers import deployutil as du
from kubelite.controllers.informers import NAMESPACE_INDEX
from kubelite.controllers.podcontrol import controller_of
from kubelite.errors import KubeliteError

if TYPE_CHECKING:
    from kubelite.controllers.deployment_sync import DeploymentSync

Obj = dict[str, Any]
# --- rolling update ------------------------------------------------------------------------------------


async def rollout_rolling(s: DeploymentSync) -> None:
    new, old = await s.get_all_rss(True)
    if new is None:  # get_all_rss(True) creates it or raises
        raise KubeliteError("no new replica set")
    if await reconcile_new(s, [*old, new], new):
        await s.sync_rollout_status(*s.current(new, old))
        return
    if await reconcile_old(s, [*old, new], du.active(list(old)), new):
        await s.sync_rollout_status(*s.current(new, old))
        return
    if du.deployment_complete(s.d, s.status):
        await s.cleanup([r for r in (s.fresh(o) for o in old) if r is not None])
    await s.sync_rollout_status(*s.current(new, old))


async def reconcile_new(s: DeploymentSync, all_rss: list[Obj | None], new: Obj) -> bool:
    want = du.spec_replicas(s.d)
    if du.spec_replicas(new) == want:
        return False
    if du.spec_replicas(new) > want:
        return (await s.scale_and_record(new, want))[0]
    return (await s.scale_and_record(new, du.new_rs_new_replicas(s.d, all_rss, new)))[0]


async def reconcile_old(s: DeploymentSync, all_rss: list[Obj | None], old: list[Obj], new: Obj) -> bool:
    old_count = du.total_replicas(list(old))
    if old_count == 0:
        return False
    min_available = du.spec_replicas(s.d) - du.max_unavailable(s.d)
    new_unavailable = du.spec_replicas(new) - du.st(new, "availableReplicas")
    max_scaled_down = du.total_replicas(all_rss) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    old, cleaned = await cleanup_unhealthy(s, old, max_scaled_down)
    scaled = await scale_down_old(s, [*old, new], old)
    return cleaned + scaled > 0


async def cleanup_unhealthy(s: DeploymentSync, old: list[Obj], max_cleanup: int) -> tuple[list[Obj], int]:
    """Shrink old ReplicaSets by their unavailable pods first: removing those costs no availability."""
    out, total = [], 0
    for rs in sorted(old, key=du.created_key):
        unhealthy = du.spec_replicas(rs) - du.st(rs, "availableReplicas")
        if total >= max_cleanup or du.spec_replicas(rs) == 0 or unhealthy <= 0:
            out.append(rs)
            continue
        n = min(max_cleanup - total, unhealthy)
        _, rs = await s.scale_and_record(rs, du.spec_replicas(rs) - n)
        total += n
        out.append(rs)
    return out, total


async def scale_down_old(s: DeploymentSync, all_rss: list[Obj | None], old: list[Obj]) -> int:
    min_available = du.spec_replicas(s.d) - du.max_unavailable(s.d)
    available = du.total_status(all_rss, "availableReplicas")
    if available <= min_available:
        return 0
    goal, total = available - min_available, 0
    for rs in sorted(old, key=du.created_key):
        if total >= goal:
            break
        if du.spec_replicas(rs) == 0:
            continue
        n = min(du.spec_replicas(rs), goal - total)
        await s.scale_and_record(rs, du.spec_replicas(rs) - n)
        total += n
    return total

# --- recreate ------------------------------------------------------------------------------------------


async def rollout_recreate(s: DeploymentSync) -> None:
    new, old = await s.get_all_rss(False)
    scaled = False
    for rs in du.active(list(old)):
        scaled = (await s.scale_and_record(rs, 0))[0] or scaled
    if scaled:
        await s.sync_rollout_status(*s.current(new, old))
        return
    if old_pods_running(s, new, old):
        await s.sync_rollout_status(*s.current(new, old))
        return
    if new is None:
        new, old = await s.get_all_rss(True)
        if new is None:
            raise KubeliteError("no new replica set")
    await s.scale_and_record(new, du.spec_replicas(s.d))
    if du.deployment_complete(s.d, s.status):
        await s.cleanup([r for r in (s.fresh(o) for o in old) if r is not None])
    await s.sync_rollout_status(*s.current(new, old))


def old_pods_running(s: DeploymentSync, new: Obj | None, old: list[Obj]) -> bool:
    if du.total_status(list(old), "replicas") > 0:
        return True
    old_uids = {rs["metadata"]["uid"] for rs in old}
    for pod in s.ctl.pod_informer.by_index(NAMESPACE_INDEX, s.d["metadata"]["namespace"]):
        ref = controller_of(pod)
        if ref is None or ref.get("uid") not in old_uids:
            continue
        if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
            return True
    return False
