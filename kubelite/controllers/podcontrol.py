"""Pods made and removed by controllers, and the pod states controllers count.

``PodControl`` creates a pod from an owner's template as kube's
``GetPodFromTemplate`` does: the template's labels, annotations and finalizers,
``generateName: <owner>-``, and an ownerReference with ``controller: true`` and
``blockOwnerDeletion: true`` (so the garbage collector and ``kubectl delete
--cascade=foreground`` know who owns the pod). Every create and delete is recorded
as an Event on the owner (``SuccessfulCreate``/``FailedCreate``,
``SuccessfulDelete``/``FailedDelete``), with kube's messages.

The predicates (:func:`is_pod_ready`, :func:`is_pod_available`, :func:`is_pod_active`)
and :func:`deletion_rank` follow kube's ``podutil`` and ``ActivePodsWithRanks``.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from kubelite.api.client import APIClient, resource_path
from kubelite.controllers.events import NORMAL, WARNING, EventRecorder
from kubelite.errors import KubeliteError, NotFound

Obj = dict[str, Any]


def parse_time(stamp: str | None) -> float | None:
    """Seconds since the epoch of an RFC 3339 timestamp, or None."""
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def controller_ref(owner: Obj) -> Obj:
    md = owner["metadata"]
    return {"apiVersion": owner.get("apiVersion", ""), "kind": owner.get("kind", ""), "name": md["name"],
            "uid": md["uid"], "controller": True, "blockOwnerDeletion": True}


def controller_of(obj: Obj) -> Obj | None:
    """The ownerReference with ``controller: true``, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            r: Obj = ref
            return r
    return None


# --- pod predicates ---------------------------------------------------------------------------------------

def _ready_condition(pod: Obj) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            r: Obj = c
            return r
    return None


def is_pod_ready(pod: Obj) -> bool:
    c = _ready_condition(pod)
    return c is not None and c.get("status") == "True"


def is_pod_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """Ready, and Ready for at least ``min_ready_seconds`` (kube's ``IsPodAvailable``)."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time((_ready_condition(pod) or {}).get("lastTransitionTime"))
    return since is not None and since + min_ready_seconds <= now


def ready_for(pod: Obj, now: float) -> float | None:
    """How long the pod has been Ready, or None when it is not."""
    if not is_pod_ready(pod):
        return None
    since = parse_time((_ready_condition(pod) or {}).get("lastTransitionTime"))
    return now - since if since is not None else 0.0


def is_pod_active(pod: Obj) -> bool:
    """Neither finished nor being deleted: a pod that counts toward an owner's replicas."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_rank(pod: Obj, now: float) -> tuple[Any, ...]:
    """Sort key: pods that sort first are deleted first (kube's ``ActivePods.Less``).

    Unscheduled before scheduled, Pending before Unknown before Running, not ready
    before ready, ready for less time before longer, more container restarts before
    fewer, and newer before older.
    """
    status = pod.get("status") or {}
    ready = is_pod_ready(pod)
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
    created = parse_time(pod["metadata"].get("creationTimestamp")) or 0.0
    return (bool((pod.get("spec") or {}).get("nodeName")), _PHASE_RANK.get(status.get("phase", ""), 0), ready,
            ready_for(pod, now) or 0.0 if ready else 0.0, -restarts, -created)


# --- creating and deleting --------------------------------------------------------------------------------

def pod_from_template(template: Obj, owner: Obj) -> Obj:
    tmd = template.get("metadata") or {}
    md: Obj = {"generateName": f"{owner['metadata']['name']}-", "namespace": owner["metadata"]["namespace"],
               "labels": dict(tmd.get("labels") or {}), "ownerReferences": [controller_ref(owner)]}
    if tmd.get("annotations"):
        md["annotations"] = dict(tmd["annotations"])
    if tmd.get("finalizers"):
        md["finalizers"] = list(tmd["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": copy.deepcopy(template.get("spec") or {})}


class PodControl:
    def __init__(self, client: APIClient, recorder: EventRecorder) -> None:
        self.client = client
        self.recorder = recorder

    async def create_pod(self, template: Obj, owner: Obj) -> Obj:
        pod = pod_from_template(template, owner)
        if not pod["metadata"]["labels"]:
            raise KubeliteError("unable to create pods, no labels")
        try:
            out = await self.client.create(resource_path("v1", "pods", owner["metadata"]["namespace"]), pod)
        except KubeliteError as e:
            self.recorder.event(owner, WARNING, "FailedCreate", f"Error creating: {e}")
            raise
        self.recorder.event(owner, NORMAL, "SuccessfulCreate", f"Created pod: {out['metadata']['name']}")
        return out

    async def delete_pod(self, namespace: str, name: str, owner: Obj) -> None:
        """Delete a pod; one already gone counts as deleted (raises NotFound so callers can tell)."""
        try:
            await self.client.delete(resource_path("v1", "pods", namespace, name))
        except NotFound:
            raise
        except KubeliteError as e:
            self.recorder.event(owner, WARNING, "FailedDelete", f"Error deleting: {e}")
            raise
        self.recorder.event(owner, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}")
