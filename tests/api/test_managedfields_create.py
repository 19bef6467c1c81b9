"""The managedFields of a create, computed in one pass, equal what the general bookkeeping computes.

Every create takes the shortcut (:func:`kubelite.api.managedfields.created_fields`); updates, patches and
server-side apply take the general walk (paths, field sets, compare, encode). The two must agree on every
shape an object can take, or a later apply would see different owners than a create recorded.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kubelite.api import managedfields as mf
from kubelite.api.fieldpath import Node, Path
from kubelite.api.registry import REGISTRY

POD_SPEC = {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "1"],
                            "env": [{"name": f"K{i}", "value": "v"} for i in range(3)],
                            "resources": {"limits": {"cpu": "100m"}}}]}
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("", "pods", {"metadata": {"name": "p", "labels": {"app": "web"}}, "spec": POD_SPEC}),
    ("", "pods", {"metadata": {"name": "p", "uid": "u", "labels": {}, "annotations": {"a": "b"},
                               "finalizers": ["a", "b", "a"], "resourceVersion": "3", "generation": 1,
                               "ownerReferences": [{"uid": "1", "name": "n", "kind": "K", "apiVersion": "v1"}]},
                  "spec": {}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}),
    # duplicate keys in keyed lists, keys with defaults (protocol), empty and null containers
    ("", "pods", {"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "c", "ports": [{"containerPort": 80}, {"containerPort": 80, "protocol": "UDP"},
                                               {"containerPort": 80}],
                        "env": [{"name": "A"}, {"name": "A", "value": "x"}]}, {"name": "c", "image": "y"}],
        "volumes": [], "nodeSelector": {}, "tolerations": [{"key": "k"}], "affinity": None}}),
    ("", "pods", {"metadata": {"name": "p"}, "spec": None}),
    ("", "pods", {"metadata": {"name": "p"}, "spec": []}),
    ("", "pods", {"metadata": {"name": "p"}}),
    ("", "pods", {"metadata": {"name": "p"}, "spec": POD_SPEC, "extra": {"x": [1, {"y": 2}]}, "extra2": 5}),
    ("apps", "deployments", {"metadata": {"name": "d"}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"a": "b"}}, "strategy": {},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": POD_SPEC}}, "status": {"replicas": 1}}),
    ("", "configmaps", {"metadata": {"name": "c"}, "data": {"a": "b", "c": ""}, "binaryData": {}, "immutable": True}),
    ("", "configmaps", {"metadata": {"name": "c"}}),
    ("", "services", {"metadata": {"name": "s"}, "spec": {
        "ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "name": "https"}], "selector": {"a": "b"},
        "clusterIPs": ["10.0.0.1"], "type": "ClusterIP"}}),
    ("", "namespaces", {"metadata": {"name": "n"}, "spec": {"finalizers": ["kubernetes"]}}),
    ("", "nodes", {"metadata": {"name": "n"}, "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]},
                   "status": {"capacity": {"cpu": "1"}}}),
]


def plain(s: Any, old: dict[str, Any] | None, new: dict[str, Any], manager: str = "m", sub: str = "") -> Any:
    """The general walk of an Update by ``manager`` through ``sub``, both objects whole (``old`` None: a
    create)."""
    new = copy.deepcopy(new)
    entries = mf.base_entries(old, new)
    before: dict[Path, Node] = mf.nodes(s, mf.without_managed(old), sub) if old is not None else \
        {("f:" + k,): Node({}, False, False) for k in ("metadata", "spec", "status")}
    changed, removed = mf.compare(before, mf.nodes(s, mf.without_managed(new), sub))
    me = mf.Entry(manager, mf.UPDATE, s.api_version, subresource=sub)
    mf.reconcile(entries, me, changed, removed, force=True)
    if changed:
        mine = mf.find(entries, me)
        mine.fields = (mine.fields | changed) - removed
        mine.time = "T"
    mf.store_entries(new, entries)
    return new["metadata"].get("managedFields")


@pytest.mark.parametrize(("group", "plural", "obj"), CASES)
def test_create_shortcut_equals_the_general_walk(group: str, plural: str, obj: dict[str, Any]) -> None:
    s = REGISTRY.lookup(group, "v1", plural)
    assert s is not None
    obj = dict(obj, apiVersion=s.api_version, kind=s.kind)
    expected = plain(s, None, obj)
    tracked = copy.deepcopy(obj)
    mf.tracker(s, "m")(None, tracked)
    got = tracked["metadata"].get("managedFields")
    if got:
        assert got[0].pop("time")
        got[0]["time"] = "T"
        got[0] = {k: got[0][k] for k in ("manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1")}
    assert json.dumps(got) == json.dumps(expected)


def test_a_create_that_carries_managed_fields_takes_the_general_walk() -> None:
    s = REGISTRY.lookup("", "v1", "configmaps")
    assert s is not None
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "managedFields": [
        {"manager": "other", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:data": {"f:a": {}}}}]}, "data": {"a": "1", "b": "2"}}
    assert mf.created_fields(s, obj) is None
    mf.tracker(s, "me")(None, obj)
    owners = {e["manager"]: e["fieldsV1"] for e in obj["metadata"]["managedFields"]}
    # everything is new, so the writer takes it all, "other" included: an emptied entry vanishes
    assert owners == {"me": {"f:data": {".": {}, "f:a": {}, "f:b": {}}}}
