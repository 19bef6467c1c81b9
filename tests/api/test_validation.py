"""fieldValidation (Strict/Warn/Ignore) and schema type checks, worded as kube-apiserver words them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config

from kubelite.api import validation
from kubelite.api.errors import BadRequest, FieldsInvalid, to_status
from kubelite.api.registry import REGISTRY
from kubelite.api.registry.base import Strategy
from tests.api.conftest import Cluster

# kube's own test body (test/integration/apiserver/field_validation_test.go) and the error it expects
INVALID = b"""{
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "dupename", "name": "dup", "labels": {"app": "nginx"}, "unknownMeta": "metaVal"},
  "spec": {
    "unknown1": "val1", "unknownDupe": "valDupe", "unknownDupe": "valDupe2", "paused": true, "paused": false,
    "selector": {"matchLabels": {"app": "nginx"}},
    "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [{
      "name": "nginx", "image": "nginx:latest", "unknownNested": "val1",
      "imagePullPolicy": "Always", "imagePullPolicy": "Never"}]}}}}"""
FOUND = ['duplicate field "metadata.name"', 'unknown field "metadata.unknownMeta"', 'unknown field "spec.unknown1"',
         'unknown field "spec.unknownDupe"', 'duplicate field "spec.paused"',
         'unknown field "spec.template.spec.containers[0].unknownNested"',
         'duplicate field "spec.template.spec.containers[0].imagePullPolicy"']
TYPO = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  replcas: 3
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: c
        image: nginx
        imagePullPolicyy: Always
"""


def deployments() -> Strategy:
    s = REGISTRY.lookup("apps", "v1", "deployments")
    assert s is not None
    return s


def test_strict_reports_everything_in_document_order_with_kubes_message() -> None:
    obj, dups = validation.decode("application/json", INVALID)
    with pytest.raises(BadRequest) as e:
        validation.check(deployments(), obj, validation.STRICT, dups)
    assert str(e.value) == ('Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
                            + ", ".join(FOUND))
    assert to_status(e.value).code == 400 and to_status(e.value).reason == "BadRequest"


def test_warn_and_ignore_drop_unknown_fields_and_keep_the_last_duplicate() -> None:
    for directive, said in ((validation.WARN, FOUND), (validation.IGNORE, [])):
        obj, dups = validation.decode("application/json", INVALID)
        assert validation.check(deployments(), obj, directive, dups) == said
        assert obj["metadata"] == {"name": "dup", "labels": {"app": "nginx"}}
        assert "unknown1" not in obj["spec"] and obj["spec"]["paused"] is False
        assert obj["spec"]["template"]["spec"]["containers"][0] == {
            "name": "nginx", "image": "nginx:latest", "imagePullPolicy": "Never"}


@pytest.mark.parametrize("body, dups", [
    # managedFields keys hold '":' inside a string: not key ends, so the fast decode stays exact
    (b'{"metadata":{"managedFields":[{"fieldsV1":{"f:ownerReferences":{"k:{\\"uid\\":\\"1\\"}":{}}}}]}}', []),
    (b'{"a":"x\\":","a":1}', ["a"]),  # an escaped quote before ':' in a value, then a real duplicate
    (b'{"a\\\\":1,"a\\\\":2}', ["a\\"]),  # a key ending in a backslash: its quote is not escaped
    (b'{"a" : 1, "a":2}', ["a"]),
    (b'{"k\\"":{"z":1,"z":2}}', ["z"]),
])
def test_duplicate_keys_are_found_whatever_the_strings_hold(body: bytes, dups: list[str]) -> None:
    obj, found = validation.decode("application/json", body)
    assert obj == json.loads(body)  # the last duplicate wins, as in Go
    assert sorted(k for keys in found.values() for k in keys) == dups
    assert validation._key_ends(body) - len(dups) == validation._key_count(obj)


def test_a_long_run_of_backslashes_takes_the_exact_parser() -> None:
    """Counting key ends would cost a pass over the body per backslash of a run: past a few, the standard
    parser with its hook decides, and still finds the duplicate."""
    key = b'"k' + b"\\\\" * 40 + b'"'  # a key ending in 40 escaped backslashes
    body = b"{" + key + b":1," + key + b":2}"
    assert validation._key_ends(body) == -1
    obj, found = validation.decode("application/json", body)
    assert obj == json.loads(body) and [sorted(keys) for keys in found.values()] == [["k" + "\\" * 40]]


def test_directive_defaults_to_warn_and_rejects_nonsense() -> None:
    assert validation.mode({}) == validation.WARN
    assert validation.mode({"fieldValidation": "Strict"}) == validation.STRICT
    with pytest.raises(BadRequest):
        validation.mode({"fieldValidation": "strict"})


def test_wrong_types_are_422_with_kube_openapi_wording() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "d"}, "spec": {
        "replicas": "two", "paused": None, "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": True}},
        "template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": "80"}]}]}}}}
    with pytest.raises(FieldsInvalid) as e:
        validation.check(deployments(), obj, validation.STRICT)
    st = to_status(e.value)
    assert st.code == 422 and st.reason == "Invalid"
    causes = st.details["causes"]
    assert causes[0] == {"reason": "FieldValueInvalid", "field": "spec.replicas",
                         "message": 'Invalid value: "string": spec.replicas in body must be of type integer: "string"'}
    assert [c["field"] for c in causes] == ["spec.replicas", "spec.strategy.rollingUpdate.maxUnavailable",
                                            "spec.template.spec.containers[0].ports[0].containerPort"]
    assert st.message.startswith('Deployment "d" is invalid: [spec.replicas: Invalid value: "string": ')


def test_fields_the_stored_object_already_has_are_not_the_clients_doing() -> None:
    old = {"metadata": {"name": "d"}, "spec": {"serverOnly": 1}}
    new = {"metadata": {"name": "d"}, "spec": {"serverOnly": 1, "typo": 2}}
    assert validation.check(deployments(), new, validation.WARN, old=old) == ['unknown field "spec.typo"']
    assert new["spec"] == {"serverOnly": 1}


def test_patch_reports_duplicates_of_the_body_first_without_the_create_prefix() -> None:
    body = b'{"spec": {"paused": true, "paused": false, "foo": 1}}'
    doc, dups = validation.decode_any("application/strategic-merge-patch+json", body)
    dup = validation.patch_duplicates(doc, dups)
    with pytest.raises(BadRequest) as e:
        validation.check(deployments(), {"metadata": {"name": "d"}, "spec": {"paused": False, "foo": 1}},
                         validation.STRICT, patch_problems=dup)
    assert str(e.value) == 'strict decoding error: duplicate field "spec.paused", unknown field "spec.foo"'


def test_maps_and_open_objects_are_not_unknown_fields() -> None:
    pod = REGISTRY.lookup("", "v1", "pods")
    assert pod is not None
    obj = {"metadata": {"name": "p", "labels": {"any": "thing"}, "managedFields": [
        {"manager": "m", "fieldsV1": {"f:spec": {"f:x": {}}}}]},
        "spec": {"nodeSelector": {"k": "v"}, "containers": [{"name": "c", "resources": {"limits": {"cpu": 1}}}]}}
    assert validation.check(pod, obj, validation.STRICT) == []


# -- through the API server ----------------------------------------------------------


@pytest.fixture(scope="module")
def api(cluster: Cluster) -> Iterator[client.ApiClient]:
    c = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield c
    c.close()


def test_kubectl_create_with_a_typo_fails_strictly_and_validate_false_drops_it(cluster: Cluster) -> None:
    manifest = TYPO.format(name="typo", replicas=2)
    err = cluster.fail("create", "-f", "-", input=manifest)
    assert ('Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" cannot be '
            'handled as a Deployment: strict decoding error: unknown field "spec.replcas", unknown field '
            '"spec.template.spec.containers[0].imagePullPolicyy"') in err
    assert "NotFound" in cluster.fail("get", "deployment", "typo")
    r = cluster.kubectl("create", "-f", "-", "--validate=warn", input=manifest)
    assert r.returncode == 0, r.stderr
    assert 'Warning: unknown field "spec.replcas"' in r.stderr
    cluster.ok("delete", "deployment", "typo")
    r = cluster.kubectl("create", "-f", "-", "--validate=false", input=manifest)
    assert r.returncode == 0 and "Warning" not in r.stderr, r.stderr
    spec = cluster.json("get", "deployment", "typo")["spec"]
    assert "replcas" not in spec and spec["replicas"] == 2  # type: ignore[index]
    # apply of a changed manifest with a typo: the strategic patch is refused too
    err = cluster.fail("apply", "-f", "-", input=manifest.replace("image: nginx", "image: nginx:2"))
    assert "strict decoding error: " in err and 'unknown field "spec.replcas"' in err
    cluster.ok("delete", "deployment", "typo")


def test_kubectl_create_with_a_wrong_type_is_invalid(cluster: Cluster) -> None:
    err = cluster.fail("create", "-f", "-", input=TYPO.format(name="typed", replicas='"two"').replace(
        "  replcas: 3\n", "").replace("imagePullPolicyy", "imagePullPolicy"))
    assert ('The Deployment "typed" is invalid: spec.replicas: Invalid value: "string": spec.replicas in body must '
            'be of type integer: "string"') in err


def _request(api: client.ApiClient, method: str, path: str, body: Any, ct: str = "application/json") -> Any:
    headers = {"Content-Type": ct, "Accept": "application/json"}
    return api.rest_client.pool_manager.request(method, api.configuration.host + path, headers=headers,
                                                body=json.dumps(body) if not isinstance(body, bytes) else body)


def test_warn_headers_strict_patch_and_ignore_over_http(api: client.ApiClient) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fv"}, "data": {"a": "1"}, "dta": {}}
    r = _request(api, "POST", base, cm)
    assert r.status == 201
    assert r.headers.getlist("Warning") == ['299 - "unknown field \\"dta\\""']
    assert "dta" not in json.loads(r.data)
    r = _request(api, "PATCH", f"{base}/fv?fieldValidation=Strict", b'{"data": {"b": "2"}, "spec": {"x": 1}}',
                 "application/merge-patch+json")
    assert r.status == 400
    assert json.loads(r.data)["message"] == 'strict decoding error: unknown field "spec"'
    r = _request(api, "PATCH", f"{base}/fv?fieldValidation=Ignore", b'{"data": {"b": "2"}, "spec": {"x": 1}}',
                 "application/merge-patch+json")
    assert r.status == 200 and "Warning" not in r.headers
    assert json.loads(r.data)["data"] == {"a": "1", "b": "2"} and "spec" not in json.loads(r.data)
    got = json.loads(_request(api, "GET", f"{base}/fv", b"").data)
    got["data"]["c"] = 3
    r = _request(api, "PUT", f"{base}/fv", got)
    assert r.status == 422
    assert json.loads(r.data)["details"]["causes"][0]["field"] == "data.c"
    v1 = client.CoreV1Api(api)
    v1.delete_namespaced_config_map("fv", "default")
