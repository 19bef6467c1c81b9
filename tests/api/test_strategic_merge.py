"""Strategic merge patch, one test per directive, with expectations from Kubernetes' documentation.

The examples follow "Update API Objects in Place Using kubectl patch" and the
strategic-merge-patch design note of sig-api-machinery; the merge keys and
strategies come from the 1.32 OpenAPI, looked up by the object's kind.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.errors import BadRequest
from kubelite.api.patch import strategic_merge


def deployment(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": containers}
    pod.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "patch-demo"},
            "spec": {"replicas": 2, "template": {"spec": pod}}}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = obj["spec"]["template"]["spec"]
    return out


def test_containers_merge_by_name() -> None:
    # kubectl patch deployment patch-demo --patch-file patch-file.yaml (the documented example)
    live = deployment([{"name": "patch-demo-ctr", "image": "nginx"}])
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]}}}}
    out = strategic_merge(live, patch)
    # as in the documentation's output: the patched container first, then the server's own
    assert pod_spec(out)["containers"] == [{"name": "patch-demo-ctr-2", "image": "redis"},
                                           {"name": "patch-demo-ctr", "image": "nginx"}]
    assert out["spec"]["replicas"] == 2
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "patch-demo-ctr", "image": "nginx:2"}]}}}}
    assert pod_spec(strategic_merge(live, patch))["containers"] == [{"name": "patch-demo-ctr", "image": "nginx:2"}]


def test_tolerations_are_replaced() -> None:
    # The documented counterpart: tolerations have no patch strategy, so the list is replaced.
    live = deployment([{"name": "c", "image": "i"}], tolerations=[{"effect": "NoSchedule", "key": "dedicated",
                                                                    "value": "test-team"}])
    patch = {"spec": {"template": {"spec": {"tolerations": [{"effect": "NoSchedule", "key": "disktype",
                                                               "value": "ssd"}]}}}}
    assert pod_spec(strategic_merge(live, patch))["tolerations"] == [{"effect": "NoSchedule", "key": "disktype",
                                                                       "value": "ssd"}]


def test_merge_keys_from_the_schema() -> None:
    live = deployment([{"name": "c", "image": "i", "ports": [{"containerPort": 80}],
                        "volumeMounts": [{"mountPath": "/a", "name": "v1"}], "env": [{"name": "A", "value": "1"}]}],
                      imagePullSecrets=[{"name": "s1"}], volumes=[{"name": "v1", "emptyDir": {}}])
    patch = {"spec": {"template": {"spec": {
        "containers": [{"name": "c", "ports": [{"containerPort": 81}],
                        "volumeMounts": [{"mountPath": "/a", "readOnly": True}], "env": [{"name": "B", "value": "2"}]}],
        "imagePullSecrets": [{"name": "s2"}], "volumes": [{"name": "v2", "emptyDir": {}}]}}}}
    spec = pod_spec(strategic_merge(live, patch))
    c = spec["containers"][0]
    assert [p["containerPort"] for p in c["ports"]] == [81, 80]
    assert c["volumeMounts"] == [{"mountPath": "/a", "name": "v1", "readOnly": True}]
    assert [e["name"] for e in c["env"]] == ["B", "A"]
    assert [s["name"] for s in spec["imagePullSecrets"]] == ["s2", "s1"]
    assert [v["name"] for v in spec["volumes"]] == ["v2", "v1"]


def test_service_ports_merge_by_port() -> None:
    live = {"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
    out = strategic_merge(live, {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}})
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090}, {"port": 443}]


def test_null_deletes_a_key() -> None:
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}}
    out = strategic_merge(live, {"metadata": {"labels": {"a": None}}, "data": None})
    assert out["metadata"]["labels"] == {"b": "2"} and "data" not in out


def test_patch_replace_on_a_list() -> None:
    live = deployment([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}])
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "z"}, {"$patch": "replace"}]}}}}
    assert pod_spec(strategic_merge(live, patch))["containers"] == [{"name": "c", "image": "z"}]


def test_patch_delete_on_a_list_item() -> None:
    live = deployment([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}])
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}}}
    assert pod_spec(strategic_merge(live, patch))["containers"] == [{"name": "b", "image": "y"}]
    with pytest.raises(BadRequest):
        strategic_merge(live, {"spec": {"template": {"spec": {"containers": [{"$patch": "delete"}]}}}})


def test_patch_replace_and_delete_on_a_map() -> None:
    live = {"apiVersion": "apps/v1", "kind": "Deployment",
            "spec": {"selector": {"matchLabels": {"a": "1", "b": "2"}}, "template": {"metadata": {"labels": {"x": "y"}}}}}
    out = strategic_merge(live, {"spec": {"selector": {"$patch": "replace", "matchLabels": {"c": "3"}}}})
    assert out["spec"]["selector"] == {"matchLabels": {"c": "3"}}
    out = strategic_merge(live, {"spec": {"template": {"metadata": {"labels": {"$patch": "delete"}}}}})
    assert out["spec"]["template"]["metadata"]["labels"] == {}
    with pytest.raises(BadRequest):
        strategic_merge(live, {"spec": {"selector": {"$patch": "bogus"}}})


def test_retain_keys() -> None:
    # The documented example: switching a Deployment's strategy to Recreate drops rollingUpdate.
    live = {"apiVersion": "apps/v1", "kind": "Deployment",
            "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%",
                                                                              "maxUnavailable": "25%"}}}}
    out = strategic_merge(live, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    with pytest.raises(BadRequest):
        strategic_merge(live, {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}})


def test_primitive_lists_merge_and_delete() -> None:
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"finalizers": ["a", "b"]}}
    out = strategic_merge(live, {"metadata": {"finalizers": ["c", "a"]}})
    assert sorted(out["metadata"]["finalizers"]) == ["a", "b", "c"]
    out = strategic_merge(live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert out["metadata"]["finalizers"] == ["b"]
    # a list without patch strategy (container args) is replaced
    dep = deployment([{"name": "c", "args": ["1", "2"]}])
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["3"]}]}}}}
    assert pod_spec(strategic_merge(dep, patch))["containers"][0]["args"] == ["3"]


def test_set_element_order() -> None:
    live = deployment([{"name": "a", "image": "1"}, {"name": "b", "image": "2"}])
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                                            "containers": [{"name": "b", "image": "3"}]}}}}
    assert pod_spec(strategic_merge(live, patch))["containers"] == [{"name": "b", "image": "3"},
                                                                    {"name": "a", "image": "1"}]
    # an item only the server knows keeps its place among the ordered ones
    live = deployment([{"name": "a"}, {"name": "b"}, {"name": "c"}])
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "d"},
                                                                            {"name": "c"}],
                                            "containers": [{"name": "d"}]}}}}
    names = [c["name"] for c in pod_spec(strategic_merge(live, patch))["containers"]]
    assert names == ["a", "d", "b", "c"]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"finalizers": ["x", "y", "z"]}}
    out = strategic_merge(cm, {"metadata": {"$setElementOrder/finalizers": ["z", "y", "x"]}})
    assert out["metadata"]["finalizers"] == ["z", "y", "x"]


def test_unknown_kinds_fall_back_to_merge_keys_by_name() -> None:
    live = {"spec": {"containers": [{"name": "a", "image": "1"}]}}
    out = strategic_merge(live, {"spec": {"containers": [{"name": "b", "image": "2"}]}})
    assert [c["name"] for c in out["spec"]["containers"]] == ["b", "a"]


@pytest.mark.parametrize("kind", ["strategic", "merge"])
def test_patching_leaves_the_target_and_the_patch_as_they_were(kind: str) -> None:
    """The server applies one decoded patch to a fresh copy per retry: neither input may change, and the
    result may not share containers with the patch (later steps of the write change the result)."""
    import copy

    from kubelite.api.patch import merge_patch

    target = deployment([{"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]}],
                        tolerations=[{"key": "k"}])
    patch = {"metadata": {"labels": {"l": "v"}},
             "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a:2"}],
                                            "tolerations": [{"key": "t"}]}}}}
    before_t, before_p = copy.deepcopy(target), copy.deepcopy(patch)
    apply = strategic_merge if kind == "strategic" else merge_patch
    out = apply(target, patch)
    assert target == before_t and patch == before_p
    assert pod_spec(out)["containers"][0]["image"] == "a:2" and out["metadata"]["labels"] == {"l": "v"}
    pod_spec(out)["tolerations"][0]["key"] = "changed"
    out["metadata"]["labels"]["l"] = "changed"
    assert patch == before_p  # nothing of the patch is shared
    again = apply(target, patch)  # a retry gets the same answer
    assert pod_spec(again)["tolerations"] == [{"key": "t"}] and again["metadata"]["labels"] == {"l": "v"}
