"""The managedFields of an update, computed with its shortcuts, equal what the plain bookkeeping computes.

An update (operation Update) walks only the fields that differ between the stored object and the new one,
at the top level and one below (in spec, in status), and skips metadata when the two agree on every field
a manager can own (a Lease renewal, a status write). The plain bookkeeping walks both objects whole. The two must agree on owners and times, whoever
writes and whatever changed, or an apply after a few renewals would see other owners than it should.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api import managedfields as mf
from kubelite.api.registry import REGISTRY
from tests.api.test_managedfields_create import plain

LEASE = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
         "metadata": {"name": "n1", "namespace": "kube-node-lease", "uid": "u1", "resourceVersion": "5",
                      "labels": {"a": "b"},
                      "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "n-uid"}]},
         "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": "2026-11-26T00:00:00.000000Z"}}


def _edit(obj: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    for path, value in changes.items():
        *parents, last = path.split("__")
        d = out
        for p in parents:
            d = d.setdefault(p, {})
        if value is None:
            d.pop(last, None)
        else:
            d[last] = value
    return out


EDITS = [
    {"spec__renewTime": "2026-11-26T00:00:10.000000Z"},  # a renewal
    {"spec__renewTime": "2026-11-26T00:00:10.000000Z", "metadata__resourceVersion": "9"},  # server-owned only
    {"metadata__labels": {"a": "c"}},  # metadata changed
    {"metadata__labels": None, "spec__holderIdentity": "n2"},  # a label set went, spec changed
    {"metadata__annotations": {"x": "y"}},  # metadata gained a field
    {"metadata__ownerReferences": []},
    {},  # nothing changed
    {"spec": None},  # a top-level field went
]


def _times(entries: Any, old: dict[str, Any]) -> Any:
    """Times set by this update as "T" (the stored ones kept), so both computations compare."""
    before = {(e["manager"], e.get("time")) for e in old["metadata"].get("managedFields") or []}
    return [dict(e, time="T") if (e["manager"], e.get("time")) not in before else e for e in entries or []]


@pytest.mark.parametrize("edit", EDITS)
@pytest.mark.parametrize("manager", ["kubelet", "other"])
def test_update_shortcuts_equal_the_plain_walk(edit: dict[str, Any], manager: str) -> None:
    s = REGISTRY.lookup("coordination.k8s.io", "v1", "leases")
    assert s is not None
    old = copy.deepcopy(LEASE)
    mf.tracker(s, "kubelet")(None, old)  # the creator owns everything it wrote
    for e in old["metadata"]["managedFields"]:
        e["time"] = "2000-01-01T00:00:00Z"  # so a time this update sets shows
    new = _edit(old, **edit)
    expected = plain(s, copy.deepcopy(old), new, manager)
    got = copy.deepcopy(new)
    mf.tracker(s, manager)(copy.deepcopy(old), got)
    assert _times(got["metadata"].get("managedFields"), old) == _times(expected, old)
    if edit.get("spec__renewTime") and manager == "other":  # the renewTime moved to its new writer
        owners = {e["manager"]: e["fieldsV1"] for e in got["metadata"]["managedFields"]}
        assert "f:renewTime" in owners["other"]["f:spec"] and "f:renewTime" not in owners["kubelet"]["f:spec"]


POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "p", "namespace": "default", "uid": "u2", "resourceVersion": "7", "labels": {"a": "b"}},
       "spec": {"nodeName": "n1", "nodeSelector": {"disk": "ssd"}, "restartPolicy": "Always",
                "containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"cpu": "1"}}}]},
       "status": {"phase": "Pending", "hostIP": "10.0.0.1", "qosClass": "Burstable", "startTime": "T0",
                  "conditions": [{"type": "PodScheduled", "status": "True"}],
                  "containerStatuses": [{"name": "c", "ready": False, "restartCount": 0,
                                         "state": {"waiting": {"reason": "ContainerCreating"}}}]}}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "u3", "resourceVersion": "3"},
        "spec": {"podCIDR": "10.1.0.0/24"},
        "status": {"capacity": {"cpu": "2", "memory": "1Gi"}, "allocatable": {"cpu": "2"},
                   "nodeInfo": {"kernelVersion": "6.1", "osImage": "Debian"},
                   "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "T0"}],
                   "images": [{"names": ["busybox"], "sizeBytes": 1}]}}
RUNNING = [{"name": "c", "ready": True, "restartCount": 0, "state": {"running": {"startedAt": "T1"}}}]

STATUS_EDITS = [
    ("pods", POD, "status", {"status__phase": "Running", "status__containerStatuses": RUNNING}),
    ("pods", POD, "status", {"status__hostIP": None}),  # a field went
    ("pods", POD, "status", {"status__podIP": "10.1.0.5"}),  # a field came
    ("pods", POD, "status", {"status__conditions": []}),
    ("pods", POD, "status", {"status": {}}),  # everything went: the status empties
    ("pods", POD, "status", {"status": {"phase": "Pending"}}),  # all but one shared field went
    ("pods", POD, "", {"spec__nodeSelector": {"disk": "hdd"}}),  # a map in spec
    ("pods", POD, "", {"spec__nodeSelector": {}}),  # emptied
    ("pods", POD, "", {"spec__containers": [{"name": "c", "image": "busybox:2"}]}),
    ("pods", POD, "", {"spec__restartPolicy": None, "metadata__labels": {"a": "c"}}),
    ("nodes", NODE, "status", {"status__conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "T1"}]}),
    ("nodes", NODE, "status", {"status__capacity": {"cpu": "4", "memory": "1Gi"}, "status__allocatable": None}),
    ("nodes", NODE, "status", {"status__nodeInfo": {"kernelVersion": "6.2"}}),  # one key left of a map
    ("nodes", NODE, "", {"spec__podCIDR": None, "spec__unschedulable": True}),
]


@pytest.mark.parametrize(("plural", "obj", "sub", "edit"), STATUS_EDITS)
@pytest.mark.parametrize("manager", ["kubelet", "other"])
def test_spec_and_status_shortcuts_equal_the_plain_walk(plural: str, obj: dict[str, Any], sub: str,
                                                         edit: dict[str, Any], manager: str) -> None:
    s = REGISTRY.lookup("", "v1", plural)
    assert s is not None
    created = {k: copy.deepcopy(v) for k, v in obj.items() if k != "status"}
    mf.tracker(s, "creator")(None, created)
    old = dict(copy.deepcopy(created), status=copy.deepcopy(obj["status"]))
    mf.tracker(s, "kubelet", "status")(created, old)  # the kubelet owns the status it wrote
    assert {e["manager"] for e in old["metadata"]["managedFields"]} == {"creator", "kubelet"}
    for e in old["metadata"]["managedFields"]:
        e["time"] = "2000-01-01T00:00:00Z"
    new = _edit(old, **edit)
    expected = plain(s, copy.deepcopy(old), new, manager, sub)
    got = copy.deepcopy(new)
    mf.tracker(s, manager, sub)(copy.deepcopy(old), got)
    assert _times(got["metadata"].get("managedFields"), old) == _times(expected, old)
