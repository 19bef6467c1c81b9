"""The managedFields of an update, computed with its shortcuts, equal what the plain bookkeeping computes.

An update (operation Update) walks only the top-level fields that differ between the stored object and the
new one, and skips metadata when the two agree on every field a manager can own (a Lease renewal, a status
write). The plain bookkeeping walks both objects whole. The two must agree on owners and times, whoever
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
