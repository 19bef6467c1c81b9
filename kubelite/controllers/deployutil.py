"""The Deployment controller's pure arithmetic: template hashes, revisions, surge and unavailability, status.

Kept apart from the controller so each rule can be read against kube's
``pkg/controller/deployment/util`` one function at a time; nothing here talks to
the API. ReplicaSets and Deployments are the plain dicts of the API.

The template hash differs from kube's in one deliberate way: kube hashes Go's
``spew`` dump of the template struct, which only Go can reproduce, so here it is
FNV-32a over the template's canonical JSON (sorted keys) plus the collision
count, encoded with kube's ``SafeEncodeString`` alphabet. Like kube's, it is
stable for a template, so ``<deployment>-<hash>`` names the same ReplicaSet every
time the same template comes back (``kubectl rollout undo``); the controller
matches ReplicaSets by template equality anyway, never by hash.
"""

from __future__ import annotations

import copy
import json
import math
import struct
import time
from typing import Any

from kubelite.api.meta import now_rfc3339
from kubelite.controllers.podcontrol import parse_time
from kubelite.errors import Invalid

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
# Deployment annotations never copied to its ReplicaSets (kube's annotationsToSkip).
SKIP_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY,
                              DESIRED_REPLICAS, MAX_REPLICAS, "deprecated.deployment.rollback.to"})
MAX_REVISION_HISTORY_CHARS = 2000

# Condition reasons, as kubectl and users read them.
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


# --- templates and hashes ---------------------------------------------------------------------------------

def compute_hash(template: Obj, collision_count: int | None) -> str:
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        data += struct.pack("<I", collision_count & 0xFFFFFFFF)
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return "".join(_ALPHANUMS[b % len(_ALPHANUMS)] for b in str(h).encode())


def _pruned(v: Any) -> Any:
    """The value with empty maps, lists and strings dropped: kube compares templates with nil == empty."""
    if isinstance(v, dict):
        out = {k: p for k, p in ((k, _pruned(x)) for k, x in v.items()) if p not in (None, {}, [], "")}
        return out
    if isinstance(v, list):
        return [_pruned(x) for x in v]
    return v


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    """Two pod templates are the same but for the ``pod-template-hash`` label."""
    a, b = copy.deepcopy(a), copy.deepcopy(b)
    for t in (a, b):
        ((t.get("metadata") or {}).get("labels") or {}).pop(HASH_LABEL, None)
    return bool(_pruned(a) == _pruned(b))


# --- ReplicaSet fields ------------------------------------------------------------------------------------

def spec_replicas(obj: Obj) -> int:
    return int((obj.get("spec") or {}).get("replicas", 1))


def st(obj: Obj, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def annotations_of(obj: Obj) -> dict[str, str]:
    ann: dict[str, str] = obj["metadata"].setdefault("annotations", {})
    return ann


def revision(obj: Obj) -> int:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "")
    try:
        return int(raw) if raw else 0
    except ValueError:
        return 0


def max_revision(rss: list[Obj]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def created_key(obj: Obj) -> tuple[float, str]:
    return parse_time(obj["metadata"].get("creationTimestamp")) or 0.0, obj["metadata"]["name"]


def by_size_older(rs: Obj) -> tuple[Any, ...]:
    """Sort key: larger first, then older first (kube's ReplicaSetsBySizeOlder)."""
    t, name = created_key(rs)
    return -spec_replicas(rs), t, name


def by_size_newer(rs: Obj) -> tuple[Any, ...]:
    """Sort key: larger first, then newer first (kube's ReplicaSetsBySizeNewer)."""
    t, name = created_key(rs)
    return -spec_replicas(rs), -t, tuple(-ord(c) for c in name)


def active(rss: list[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and spec_replicas(rs) > 0]


def total_replicas(rss: list[Obj | None]) -> int:
    return sum(spec_replicas(rs) for rs in rss if rs is not None)


def total_status(rss: list[Obj | None], field: str) -> int:
    return sum(st(rs, field) for rs in rss if rs is not None)


# --- surge and unavailability -----------------------------------------------------------------------------

def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """An int-or-percent (``maxSurge: 25%``) against ``total``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.endswith("%"):
        try:
            pct = int(value[:-1])
        except ValueError:
            raise Invalid(f"invalid value for IntOrString: invalid value {value!r}") from None
        exact = pct * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise Invalid(f"invalid value for IntOrString: invalid type: string is not a percentage: {value!r}")


def is_rolling(d: Obj) -> bool:
    kind: str = ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate")
    return kind == "RollingUpdate"


def fenceposts(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as numbers; both zero would deadlock, so unavailability becomes 1."""
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    desired = spec_replicas(d)
    surge = scaled_value(ru.get("maxSurge", "25%"), desired, True)
    unavailable = scaled_value(ru.get("maxUnavailable", "25%"), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    return fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: Obj) -> int:
    if not is_rolling(d) or spec_replicas(d) == 0:
        return 0
    return min(fenceposts(d)[1], spec_replicas(d))


def new_rs_new_replicas(d: Obj, all_rss: list[Obj | None], new_rs: Obj) -> int:
    """How big the new ReplicaSet may be now."""
    if not is_rolling(d):
        return spec_replicas(d)
    current = total_replicas(all_rss)
    max_total = spec_replicas(d) + max_surge(d)
    if current >= max_total:
        return spec_replicas(new_rs)
    up = min(max_total - current, spec_replicas(d) - spec_replicas(new_rs))
    return spec_replicas(new_rs) + up


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    try:
        desired = int(annotations_of(rs).get(DESIRED_REPLICAS, ""))
    except ValueError:
        return False
    want = spec_replicas(d)
    return spec_replicas(rs) == want and desired == want and st(rs, "availableReplicas") == want


def proportion(rs: Obj, d: Obj, to_add: int, added: int, status_replicas: int) -> int:
    """The share of a scaling event one ReplicaSet takes (kube's GetReplicaSetProportion)."""
    if spec_replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    if spec_replicas(d) == 0:
        fraction = -spec_replicas(rs)
    else:
        try:
            annotated = int(annotations_of(rs).get(MAX_REPLICAS, ""))
        except ValueError:
            annotated = status_replicas
        deployment_replicas = spec_replicas(d) + max_surge(d)
        exact = spec_replicas(rs) * deployment_replicas / annotated if annotated else 0.0
        fraction = int(math.floor(exact + 0.5) if exact >= 0 else -math.floor(-exact + 0.5)) - spec_replicas(rs)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


# --- annotations ------------------------------------------------------------------------------------------

def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann, changed = annotations_of(rs), False
    for k, v in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(max_replicas))):
        if ann.get(k) != v:
            ann[k] = v
            changed = True
    return changed


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
    """Copy the deployment's annotations, raise the revision (keeping the old ones in revision-history)."""
    ann, changed = annotations_of(rs), False
    for k, v in ((d["metadata"].get("annotations")) or {}).items():
        if k not in SKIP_ANNOTATIONS and ann.get(k) != v:
            ann[k] = v
            changed = True
    old = ann.get(REVISION, "")
    try:
        old_int = int(old) if old else 0
    except ValueError:
        return False
    if old_int < new_revision:
        ann[REVISION] = str(new_revision)
        changed = True
        if old:
            hist = [x for x in ann.get(REVISION_HISTORY, "").split(",") if x] + [old]
            while len(",".join(hist)) > MAX_REVISION_HISTORY_CHARS and len(hist) > 1:
                hist.pop(0)
            ann[REVISION_HISTORY] = ",".join(hist)
    if not exists and set_replicas_annotations(rs, spec_replicas(d), spec_replicas(d) + max_surge(d)):
        changed = True
    return changed


# --- conditions and status --------------------------------------------------------------------------------

def condition(status: Obj, type_: str) -> Obj | None:
    for c in status.get("conditions") or []:
        if c.get("type") == type_:
            found: Obj = c
            return found
    return None


def new_condition(type_: str, status: str, reason: str, message: str) -> Obj:
    now = now_rfc3339()
    return {"type": type_, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def set_condition(status: Obj, cond: Obj) -> None:
    """Set ``cond``, keeping the old one when status and reason are unchanged (kube's SetDeploymentCondition)."""
    cur = condition(status, cond["type"])
    if cur is not None and cur.get("status") == cond["status"] and cur.get("reason") == cond["reason"]:
        return
    if cur is not None and cur.get("status") == cond["status"]:
        cond["lastTransitionTime"] = cur.get("lastTransitionTime", cond["lastTransitionTime"])
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]] + [cond]


def remove_condition(status: Obj, type_: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != type_]


def has_progress_deadline(d: Obj) -> bool:
    pds = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return pds is not None and pds != 2**31 - 1


def calculate_status(all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> Obj:
    available = total_status(all_rss, "availableReplicas")
    status: Obj = {
        "observedGeneration": d["metadata"].get("generation", 1),
        "replicas": total_status(all_rss, "replicas"),
        "updatedReplicas": total_status([new_rs], "replicas"),
        "readyReplicas": total_status(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(total_replicas(all_rss) - available, 0),
        "conditions": copy.deepcopy((d.get("status") or {}).get("conditions") or []),
    }
    if (cc := (d.get("status") or {}).get("collisionCount")) is not None:
        status["collisionCount"] = cc
    if available >= spec_replicas(d) - max_unavailable(d):
        set_condition(status, new_condition("Available", "True", MIN_AVAILABLE, "Deployment has minimum availability."))
    else:
        set_condition(status, new_condition("Available", "False", MIN_UNAVAILABLE,
                                            "Deployment does not have minimum availability."))
    return status


def deployment_complete(d: Obj, status: Obj) -> bool:
    want = spec_replicas(d)
    return (status.get("updatedReplicas") == want and status.get("replicas") == want
            and status.get("availableReplicas") == want
            and int(status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation", 1)))


def deployment_progressing(d: Obj, status: Obj) -> bool:
    old = d.get("status") or {}
    old_old = int(old.get("replicas") or 0) - int(old.get("updatedReplicas") or 0)
    new_old = int(status.get("replicas") or 0) - int(status.get("updatedReplicas") or 0)
    return (int(status.get("updatedReplicas") or 0) > int(old.get("updatedReplicas") or 0) or new_old < old_old
            or int(status.get("readyReplicas") or 0) > int(old.get("readyReplicas") or 0)
            or int(status.get("availableReplicas") or 0) > int(old.get("availableReplicas") or 0))


def progress_deadline_left(d: Obj, status: Obj, now: float | None = None) -> float | None:
    """Seconds until the Progressing condition's deadline passes, or None when there is no deadline to watch."""
    if not has_progress_deadline(d):
        return None
    cond = condition(status, "Progressing")
    if cond is None or cond.get("reason") in (NEW_RS_AVAILABLE, TIMED_OUT):
        return None
    since = parse_time(cond.get("lastUpdateTime"))
    if since is None:
        return None
    return since + int(d["spec"]["progressDeadlineSeconds"]) - (time.time() if now is None else now)


def deployment_timed_out(d: Obj, status: Obj) -> bool:
    cond = condition(status, "Progressing")
    if not has_progress_deadline(d) or cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    left = progress_deadline_left(d, status)
    return left is not None and left < 0
