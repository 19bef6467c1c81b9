"""DeleteOptions as kube-apiserver applies them: what a DELETE does to one object, decided without I/O.

:func:`plan_delete` follows ``rest.BeforeDelete`` and the generic store's
``Delete`` / ``updateForGracefulDeletionAndFinalizers``:

- graceful deletion (Pods only, via the strategy's ``graceful_delete_period``):
  the object gets ``deletionTimestamp`` = now + period and
  ``deletionGracePeriodSeconds`` and stays until its node's agent deletes it
  with grace 0; a period of 0 (unscheduled or finished pods, ``--force
  --grace-period=0``) deletes at once. A second delete may only shorten the
  period; otherwise it is a no-op on a deletion already pending;
- propagation: ``Orphan`` puts the ``orphan`` finalizer on the object,
  ``Foreground`` ``foregroundDeletion``, ``Background`` (the default) neither;
  the garbage collector acts on them and removes them (issue 5). The deprecated
  ``orphanDependents`` is honoured; setting both is a 422;
- an object with finalizers is never deleted here: it is marked
  (``deletionTimestamp``, grace 0) and the last finalizer's removal deletes it.

The verdict is ``"delete"`` (remove from the store), ``"update"`` (write the
changed object) or ``"none"`` (answer with it as it is).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from kubelite.api.errors import Cause, FieldsInvalid, Resource, invalid_value, not_supported
from kubelite.api.meta import now_rfc3339
from kubelite.api.registry.base import Obj, Strategy

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
POLICIES = ["Foreground", "Background", "Orphan"]
DELETE_OPTIONS = Resource("meta.k8s.io", "", "DeleteOptions")


@dataclass
class Plan:
    action: Literal["delete", "update", "none"]
    obj: Obj


def validate_options(options: Obj) -> None:
    causes: list[Cause] = []
    policy = options.get("propagationPolicy")
    if policy is not None and options.get("orphanDependents") is not None:
        causes.append(invalid_value("propagationPolicy", policy, "orphanDependents and deletionPropagation cannot "
                                    "be both set"))
    if policy is not None and policy not in POLICIES:
        causes.append(not_supported("propagationPolicy", policy, [*POLICIES, "nil"]))
    grace = options.get("gracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
        causes.append(invalid_value("gracePeriodSeconds", grace, "must be an integer"))
    if causes:
        raise FieldsInvalid(DELETE_OPTIONS, "", causes)


def _at(seconds: int) -> str:
    if seconds <= 0:
        return now_rfc3339()
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _before_delete(s: Strategy, obj: Obj, options: Obj) -> tuple[bool, bool]:
    """(graceful, pending): kube's ``BeforeDelete``; sets the deletion fields when graceful."""
    meta = obj["metadata"]
    requested = options.get("gracePeriodSeconds")
    if meta.get("deletionTimestamp"):
        current = meta.get("deletionGracePeriodSeconds")
        if not current or s.graceful_delete_period(obj, requested) is None:
            return False, False
        if requested is None or requested >= current:
            return False, True
        period = max(int(requested), 0)
    else:
        found = s.graceful_delete_period(obj, requested)
        if found is None:
            return False, False
        period = found
    meta["deletionTimestamp"] = _at(period)
    meta["deletionGracePeriodSeconds"] = period
    return True, False


def _gc_finalizers(meta: Obj, options: Obj) -> list[str]:
    """``deletionFinalizersForGarbageCollection``: the finalizers after applying the propagation policy."""
    current = list(meta.get("finalizers") or [])
    policy, orphan_deps = options.get("propagationPolicy"), options.get("orphanDependents")
    if orphan_deps is not None:
        orphan, foreground = bool(orphan_deps), False
    elif policy is not None:
        orphan, foreground = policy == "Orphan", policy == "Foreground"
    else:
        orphan, foreground = ORPHAN in current, FOREGROUND in current and ORPHAN not in current
    out = [f for f in current if f not in (ORPHAN, FOREGROUND)]
    if orphan:
        out.append(ORPHAN)
    if foreground:
        out.append(FOREGROUND)
    return out if set(out) != set(current) else current


def plan_delete(s: Strategy, obj: Obj, options: Obj) -> Plan:
    """What deleting ``obj`` (already read, preconditions checked) with ``options`` does; mutates ``obj``."""
    validate_options(options)
    meta = obj["metadata"]
    before = (meta.get("deletionTimestamp"), meta.get("deletionGracePeriodSeconds"), meta.get("finalizers"))
    graceful, pending = _before_delete(s, obj, options)
    if pending:
        return Plan("none", obj)
    finalizers = _gc_finalizers(meta, options)
    if finalizers:
        meta["finalizers"] = finalizers
    else:
        meta.pop("finalizers", None)
    if not finalizers and (not graceful or meta.get("deletionGracePeriodSeconds") == 0):
        return Plan("delete", obj)
    if not graceful and not meta.get("deletionTimestamp"):
        meta["deletionTimestamp"] = now_rfc3339()
        meta["deletionGracePeriodSeconds"] = 0
    if graceful and meta.get("generation"):
        meta["generation"] = int(meta["generation"]) + 1
    after = (meta.get("deletionTimestamp"), meta.get("deletionGracePeriodSeconds"), meta.get("finalizers"))
    return Plan("update" if after != before else "none", obj)
