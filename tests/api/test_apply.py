"""Server-side apply end to end: the real kubectl and the Python client against a kubelite server.

Field ownership (``managedFields``), conflicts between managers and their
resolution with ``--force-conflicts``, pruning of fields an applier stops
applying, the migration of a client-side applied object to server-side apply,
and the Update entries ordinary writes leave behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from kubelite.api import fieldpath
from kubelite.api.apply import apply_config
from kubelite.api.errors import ApplyConflict
from kubelite.api.registry import REGISTRY
from tests.api.conftest import Cluster

CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  labels: {{app: demo}}
data:
{data}"""

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: nginx
        image: {image}
        ports: [{{containerPort: 80}}]
"""


def cm(name: str, **data: str) -> str:
    return CM.format(name=name, data="".join(f"  {k}: '{v}'\n" for k, v in data.items()))


def managers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"] + ("/" + e["subresource"] if e.get("subresource") else ""): e
            for e in obj["metadata"].get("managedFields", [])}


def test_apply_twice_and_managed_fields(cluster: Cluster) -> None:
    assert "serverside-applied" in cluster.ok("apply", "--server-side", "-f", "-", input=cm("ssa1", a="1"))
    first = cluster.json("get", "cm", "ssa1", "--show-managed-fields")
    assert "serverside-applied" in cluster.ok("apply", "--server-side", "-f", "-", input=cm("ssa1", a="1"))
    again = cluster.json("get", "cm", "ssa1", "--show-managed-fields")
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]  # type: ignore[index]
    entry = managers(again)["kubectl"]  # type: ignore[arg-type]
    assert entry["operation"] == "Apply" and entry["fieldsType"] == "FieldsV1" and entry["apiVersion"] == "v1"
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}
    shown = yaml.safe_load(cluster.ok("get", "cm", "ssa1", "-o", "yaml", "--show-managed-fields"))
    assert shown["metadata"]["managedFields"][0]["manager"] == "kubectl"
    assert "managedFields" not in cluster.ok("get", "cm", "ssa1", "-o", "yaml")


def test_conflict_between_managers_and_force(cluster: Cluster) -> None:
    cluster.ok("apply", "--server-side", "--field-manager=a", "-f", "-", input=cm("ssa2", k="1", other="x"))
    err = cluster.fail("apply", "--server-side", "--field-manager=b", "-f", "-", input=cm("ssa2", k="2"))
    assert 'Apply failed with 1 conflict: conflict with "a": .data.k' in err
    assert cluster.json("get", "cm", "ssa2")["data"] == {"k": "1", "other": "x"}
    # the same value is no conflict: both managers own the field
    cluster.ok("apply", "--server-side", "--field-manager=c", "-f", "-", input=cm("ssa2", k="1"))
    cluster.ok("apply", "--server-side", "--field-manager=b", "--force-conflicts", "-f", "-", input=cm("ssa2", k="2"))
    obj = cluster.json("get", "cm", "ssa2", "--show-managed-fields")
    assert obj["data"] == {"k": "2", "other": "x"}
    owned = managers(obj)  # type: ignore[arg-type]
    assert "f:k" in owned["b"]["fieldsV1"]["f:data"]
    assert "f:k" not in owned["a"]["fieldsV1"]["f:data"] and "f:other" in owned["a"]["fieldsV1"]["f:data"]
    assert "c" not in owned or "f:data" not in owned["c"]["fieldsV1"]


def test_removed_fields_are_pruned_unless_owned_by_another(cluster: Cluster) -> None:
    cluster.ok("apply", "--server-side", "-f", "-", input=cm("ssa3", one="1", two="2", three="3"))
    cluster.ok("apply", "--server-side", "--field-manager=keeper", "-f", "-", input=cm("ssa3", three="3"))
    cluster.ok("apply", "--server-side", "-f", "-", input=cm("ssa3", one="1"))
    assert cluster.json("get", "cm", "ssa3")["data"] == {"one": "1", "three": "3"}


def test_deployment_container_list_and_client_side_migration(cluster: Cluster) -> None:
    cluster.ok("apply", "-f", "-", input=DEPLOY.format(name="mig", replicas=2, image="nginx:1"))
    obj = cluster.json("get", "deploy", "mig", "--show-managed-fields")
    csa = managers(obj)["kubectl-client-side-apply"]  # type: ignore[arg-type]
    assert csa["operation"] == "Update" and csa["apiVersion"] == "apps/v1"
    ports = csa["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']["f:ports"]
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in ports
    # a manager other than kubectl conflicts with the client-side applier
    err = cluster.fail("apply", "--server-side", "--field-manager=other", "-f", "-",
                       input=DEPLOY.format(name="mig", replicas=3, image="nginx:1"))
    assert 'conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas' in err
    # kubectl itself takes over its client-side applied fields
    assert "serverside-applied" in cluster.ok("apply", "--server-side", "-f", "-",
                                              input=DEPLOY.format(name="mig", replicas=3, image="nginx:2"))
    obj = cluster.json("get", "deploy", "mig", "--show-managed-fields")
    owned = managers(obj)  # type: ignore[arg-type]
    assert "kubectl-client-side-apply" not in owned and owned["kubectl"]["operation"] == "Apply"
    assert obj["spec"]["replicas"] == 3  # type: ignore[index]
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"  # type: ignore[index]
    # and a second container added then removed from the applied file disappears
    two = DEPLOY.format(name="mig", replicas=3, image="nginx:2") + "      - name: side\n        image: busybox\n"
    cluster.ok("apply", "--server-side", "-f", "-", input=two)
    names = [c["name"] for c in cluster.json("get", "deploy", "mig")["spec"]["template"]["spec"]["containers"]]  # type: ignore[index]
    assert names == ["nginx", "side"]
    cluster.ok("apply", "--server-side", "-f", "-", input=DEPLOY.format(name="mig", replicas=3, image="nginx:2"))
    names = [c["name"] for c in cluster.json("get", "deploy", "mig")["spec"]["template"]["spec"]["containers"]]  # type: ignore[index]
    assert names == ["nginx"]


def test_update_managers_from_ordinary_writes(cluster: Cluster) -> None:
    cluster.ok("create", "-f", "-", input=DEPLOY.format(name="upd", replicas=1, image="nginx:1"))
    cluster.ok("label", "deploy", "upd", "color=red")
    cluster.ok("scale", "deploy", "upd", "--replicas=2")
    owned = managers(cluster.json("get", "deploy", "upd", "--show-managed-fields"))  # type: ignore[arg-type]
    assert owned["kubectl-create"]["operation"] == "Update"
    assert owned["kubectl-label"]["fieldsV1"] == {"f:metadata": {"f:labels": {".": {}, "f:color": {}}}}
    assert owned["kubectl/scale"]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in owned["kubectl-create"]["fieldsV1"]["f:spec"]
    err = cluster.fail("apply", "--server-side", "--field-manager=x", "-f", "-",
                       input=DEPLOY.format(name="upd", replicas=5, image="nginx:1"))
    assert 'conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas' in err


@pytest.fixture(scope="module")
def api(cluster: Cluster) -> Iterator[client.ApiClient]:
    c = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    try:
        yield c
    finally:
        c.close()


def test_python_client_apply_patch(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "pyssa"}, "data": {"a": "1"}}
    made = v1.patch_namespaced_config_map("pyssa", "default", body, field_manager="py",
                                          _content_type="application/apply-patch+yaml")
    assert made.data == {"a": "1"} and made.metadata.managed_fields[0].manager == "py"
    with pytest.raises(ApiException) as e:
        v1.patch_namespaced_config_map("pyssa", "default", dict(body, data={"a": "2"}), field_manager="other",
                                       _content_type="application/apply-patch+yaml")
    status = json.loads(e.value.body)
    assert e.value.status == 409 and status["reason"] == "Conflict"
    assert status["details"]["causes"] == [{"reason": "FieldManagerConflict", "message": 'conflict with "py"',
                                            "field": ".data.a"}]
    with pytest.raises(ApiException) as e:
        v1.patch_namespaced_config_map("pyssa", "default", body, _content_type="application/apply-patch+yaml")
    assert e.value.status == 422
    assert ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
            in json.loads(e.value.body)["message"])
    forced = v1.patch_namespaced_config_map("pyssa", "default", dict(body, data={"a": "2"}), field_manager="other",
                                            force=True, _content_type="application/apply-patch+yaml")
    assert forced.data == {"a": "2"}


# -- the engine alone ------------------------------------------------------------------------------


def test_apply_engine_sets_lists_and_prune() -> None:
    s = REGISTRY.lookup("", "v1", "configmaps")
    assert s is not None
    cfg = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "finalizers": ["a", "b"]},
           "data": {"k": "v"}}
    live = apply_config(s, None, cfg, "m1", False)
    live["metadata"]["resourceVersion"] = "1"
    fields = fieldpath.decode(live["metadata"]["managedFields"][0]["fieldsV1"])
    assert ("f:metadata", "f:finalizers", 'v:"a"') in fields and ("f:data", "f:k") in fields
    cfg2 = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "finalizers": ["a"]}}
    out = apply_config(s, live, cfg2, "m1", False)
    assert out["metadata"]["finalizers"] == ["a"] and "data" not in out
    with pytest.raises(ApplyConflict) as e:
        apply_config(s, live, dict(cfg, data={"k": "w", "j": "1"}, metadata={"name": "x"}), "m2", False)
    assert str(e.value) == 'Apply failed with 1 conflict: conflict with "m1": .data.k'


def test_fieldpath_round_trip_and_strings() -> None:
    paths = {("f:spec", "f:containers", 'k:{"name":"a"}'), ("f:spec", "f:containers", 'k:{"name":"a"}', "f:image"),
             ("f:metadata", "f:finalizers", 'v:"x"')}
    encoded = fieldpath.encode(paths)
    assert encoded["f:spec"]["f:containers"]['k:{"name":"a"}'] == {".": {}, "f:image": {}}
    assert fieldpath.decode(encoded) == paths
    assert fieldpath.path_string(("f:spec", "f:containers", 'k:{"name":"a"}', "f:image")) == \
        '.spec.containers[name="a"].image'
    assert fieldpath.path_string(("f:metadata", "f:finalizers", 'v:"x"')) == '.metadata.finalizers[="x"]'
