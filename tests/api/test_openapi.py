"""OpenAPI v3: real component schemas, kube's hash/ETag protocol, and the kubectl paths that read them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config

from kubelite.api import openapi
from kubelite.api.registry import REGISTRY
from tests.api.conftest import Cluster

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: web
        image: nginx:{tag}
        ports:
        - containerPort: 80
      - name: sidecar
        image: busybox
        env:
        - {{name: MODE, value: "{mode}"}}
"""


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                out.add(v)
            else:
                _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


# -- documents, no server --------------------------------------------------------


def test_root_lists_every_group_version_with_the_hash_of_its_document() -> None:
    root = openapi.root_document(REGISTRY)
    assert {"api/v1", "apis/apps/v1"} <= set(root["paths"])
    for path, entry in root["paths"].items():
        served = openapi._served(REGISTRY)[path]
        assert entry["serverRelativeURL"] == f"/openapi/v3/{path}?hash={hashlib.sha512(served.body).hexdigest().upper()}"


def test_every_served_kind_has_its_real_schema_and_every_ref_resolves() -> None:
    for g, v in REGISTRY.group_versions():
        doc = openapi.gv_document(REGISTRY, g, v)
        assert doc is not None
        comps = doc["components"]["schemas"]
        for s in REGISTRY.in_group_version(g, v):
            name = openapi.schema_name(s)
            assert {"group": g, "version": v, "kind": s.kind} in comps[name]["x-kubernetes-group-version-kind"]
            assert comps[name].get("properties"), s.kind
        refs: set[str] = set()
        _refs(doc, refs)
        missing = {r for r in refs if r.removeprefix("#/components/schemas/") not in comps}
        assert not missing
        assert '"null"' not in json.dumps(comps)  # nullable type arrays became OpenAPI types


def test_strategic_merge_extensions_are_kept() -> None:
    doc = openapi.gv_document(REGISTRY, "apps", "v1")
    assert doc is not None
    comps = doc["components"]["schemas"]
    containers = comps["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-list-type"] == "map"
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    strategy = comps["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"
    assert strategy["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"}]
    assert comps["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["replicas"]["type"] == "integer"


def test_patch_operations_advertise_gvk_field_validation_and_strategic_merge() -> None:
    doc = openapi.gv_document(REGISTRY, "apps", "v1")
    assert doc is not None
    op = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert op["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert "fieldValidation" in {p["name"] for p in op["parameters"]}
    assert "application/strategic-merge-patch+json" in op["requestBody"]["content"]
    scale = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["get"]
    assert scale["x-kubernetes-group-version-kind"]["kind"] == "Scale"


# -- over HTTPS ------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(cluster: Cluster) -> Iterator[client.ApiClient]:
    c = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield c
    c.close()


def _get(api: client.ApiClient, path: str, headers: dict[str, str] | None = None) -> Any:
    return api.rest_client.pool_manager.request("GET", api.configuration.host + path, headers=headers or {},
                                                redirect=False, preload_content=True)


def test_hash_etag_redirect_and_not_modified(api: client.ApiClient) -> None:
    root = json.loads(_get(api, "/openapi/v3").data)
    url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
    r = _get(api, url)
    assert r.status == 200
    etag = url.split("hash=")[1]
    assert r.headers["ETag"] == f'"{etag}"'
    assert r.headers["Cache-Control"] == "public, immutable"
    assert "Expires" in r.headers
    assert json.loads(r.data)["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    stale = _get(api, "/openapi/v3/apis/apps/v1?hash=0123")
    assert stale.status == 301 and stale.headers["Location"] == url
    assert _get(api, "/openapi/v3/apis/apps/v1", {"If-None-Match": f'"{etag}"'}).status == 304
    plain = _get(api, "/openapi/v3/api/v1")
    assert plain.status == 200 and "Cache-Control" not in plain.headers
    assert _get(api, "/openapi/v3/apis/nope/v1").status == 404


def test_kubectl_explain(cluster: Cluster) -> None:
    out = cluster.ok("explain", "pods.spec.containers")
    assert "FIELD: containers <[]Container>" in out
    assert "image\t<string>" in out and "ports\t<[]ContainerPort>" in out
    rec = cluster.ok("explain", "deployment", "--recursive")
    assert "GROUP:      apps" in rec and "KIND:       Deployment" in rec
    assert "        containers\t<[]Container> -required-" in rec
    assert "        maxSurge\t<IntOrString>" in rec
    assert "apiVersion\t<string>\n" in rec  # no enum leaked from kubernetes-validate
    assert "FIELD: replicas <integer>" in cluster.ok("explain", "deploy.spec.replicas")
    assert "does not exist" in cluster.fail("explain", "deploy.spec.nope")


def test_client_side_apply_builds_its_strategic_patch_from_the_schemas(cluster: Cluster) -> None:
    first = DEPLOYMENT.format(name="csa", tag="1.25", mode="a")
    cluster.ok("apply", "-f", "-", input=first)
    r = cluster.kubectl("apply", "-f", "-", "-v=6", input=DEPLOYMENT.format(name="csa", tag="1.26", mode="b"))
    assert r.returncode == 0, r.stderr
    assert "error calculating patch" not in r.stderr
    assert "/openapi/v2" not in r.stderr  # the patch came from our v3 document, not a v2 fallback
    dep = cluster.json("get", "deployment", "csa")
    containers = dep["spec"]["template"]["spec"]["containers"]  # type: ignore[index]
    assert [c["name"] for c in containers] == ["web", "sidecar"]
    assert containers[0]["image"] == "nginx:1.26" and containers[0]["ports"][0]["containerPort"] == 80
    assert containers[1]["env"] == [{"name": "MODE", "value": "b"}]
    # dropping the sidecar from the manifest removes it (the merge key, not a list replace, decides)
    one = DEPLOYMENT.format(name="csa", tag="1.26", mode="b").split("      - name: sidecar")[0]
    cluster.ok("apply", "-f", "-", input=one)
    dep = cluster.json("get", "deployment", "csa")
    assert [c["name"] for c in dep["spec"]["template"]["spec"]["containers"]] == ["web"]  # type: ignore[index]
    cluster.ok("delete", "deployment", "csa")
