"""The API server's half of namespace deletion, on a server without controllers (nothing empties or finalizes
behind the test's back): DELETE marks a namespace Terminating, creates in it get kube's 403, ``finalize``
lifts ``spec.finalizers`` and deletes the namespace when nothing else holds it, bad ``finalize`` bodies get
kube's 4xx. The namespace controller's half (emptying, ``kubectl delete namespace`` waiting for it) is in
tests/controllers/test_namespace.py.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from tests.api.conftest import Cluster, start_cluster, stop_cluster

_ids = itertools.count()
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def v1(cluster: Cluster) -> Iterator[client.CoreV1Api]:
    with config.new_client_from_config(config_file=str(cluster.kubeconfig)) as api:
        yield client.CoreV1Api(api)


@pytest.fixture
def ns(cluster: Cluster) -> str:
    name = f"life{next(_ids)}"
    cluster.ok("create", "namespace", name)
    return name


def raw_delete(v1: client.CoreV1Api, name: str, **kw: Any) -> tuple[int, Obj]:
    r = v1.delete_namespace(name, _preload_content=False, **kw)
    return r.status, json.loads(r.data)


def read(v1: client.CoreV1Api, name: str) -> Obj:
    r = v1.read_namespace(name, _preload_content=False)
    out: Obj = json.loads(r.data)
    return out


def finalize(v1: client.CoreV1Api, name: str, finalizers: list[str]) -> Any:
    """PUT ``finalize`` as the namespace controller does: the namespace as read, with new ``spec.finalizers``
    (like any update, the body's metadata is written too: a body without ``metadata.finalizers`` drops them)."""
    body = v1.read_namespace(name)
    body.spec = client.V1NamespaceSpec(finalizers=finalizers)
    return v1.replace_namespace_finalize(name, body)


def gone(v1: client.CoreV1Api, name: str) -> bool:
    with pytest.raises(ApiException) as e:
        v1.read_namespace(name)
    return e.value.status == 404


def test_delete_marks_terminating_and_finalize_removes_it(cluster: Cluster, v1: client.CoreV1Api, ns: str) -> None:
    v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="kept")))
    code, body = raw_delete(v1, ns)
    assert code == 200 and body["kind"] == "Namespace"
    meta = body["metadata"]
    assert meta["deletionTimestamp"] and meta["deletionGracePeriodSeconds"] == 0 and "finalizers" not in meta
    assert body["status"]["phase"] == "Terminating" and body["spec"] == {"finalizers": ["kubernetes"]}
    assert cluster.ok("get", "namespace", ns).split()[3:5] == [ns, "Terminating"]
    # nothing empties it here, and a second DELETE changes nothing while spec.finalizers hold it
    code, again = raw_delete(v1, ns)
    assert code == 200 and again == read(v1, ns) and again["metadata"]["resourceVersion"] == meta["resourceVersion"]
    assert [c.metadata.name for c in v1.list_namespaced_config_map(ns).items] == ["kept"]
    # updates and deletes inside go on (the namespace controller needs them); creates do not
    v1.patch_namespaced_config_map("kept", ns, {"data": {"a": "b"}})
    v1.delete_namespaced_config_map("kept", ns)
    finalized = finalize(v1, ns, [])
    assert finalized.metadata.name == ns
    assert gone(v1, ns)


def test_create_in_a_terminating_namespace_is_forbidden(v1: client.CoreV1Api, ns: str) -> None:
    raw_delete(v1, ns)
    why = f"unable to create new content in namespace {ns} because it is being terminated"
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="late")))
    status = json.loads(e.value.body)
    assert e.value.status == 403 and status["reason"] == "Forbidden"
    assert status["message"] == f'configmaps "late" is forbidden: {why}'
    assert status["details"] == {"name": "late", "kind": "configmaps", "causes": [
        {"reason": "NamespaceTerminating", "message": f"namespace {ns} is being terminated",
         "field": "metadata.namespace"}]}
    with pytest.raises(ApiException) as e:  # a generated name is not known yet when kube's admission refuses
        v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="g-")))
    assert json.loads(e.value.body)["message"] == f"configmaps is forbidden: {why}"
    apps = client.AppsV1Api(v1.api_client)
    with pytest.raises(ApiException) as e:
        apps.create_namespaced_deployment(ns, {"metadata": {"name": "d"}, "spec": {
            "selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
                "containers": [{"name": "c", "image": "busybox"}]}}}})
    assert e.value.status == 403
    assert json.loads(e.value.body)["message"] == f'deployments.apps "d" is forbidden: {why}'
    finalize(v1, ns, [])
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="later")))
    assert e.value.status == 404


def test_eviction_and_binding_in_a_terminating_namespace_are_forbidden(v1: client.CoreV1Api, ns: str) -> None:
    """Both are creates to kube's NamespaceLifecycle admission; kubectl drain falls back to a delete on the
    NamespaceTerminating cause of the eviction's refusal."""
    for name in ("evictme", "bindme"):
        v1.create_namespaced_pod(ns, client.V1Pod(metadata=client.V1ObjectMeta(name=name), spec=client.V1PodSpec(
            containers=[client.V1Container(name="c", image="busybox")])))
    raw_delete(v1, ns)
    why = f"unable to create new content in namespace {ns} because it is being terminated"
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_pod_eviction("evictme", ns, client.V1Eviction(
            metadata=client.V1ObjectMeta(name="evictme", namespace=ns)))
    status = json.loads(e.value.body)
    assert e.value.status == 403 and status["message"] == f'pods "evictme" is forbidden: {why}'
    assert [c["reason"] for c in status["details"]["causes"]] == ["NamespaceTerminating"]
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_pod_binding("bindme", ns, client.V1Binding(
            metadata=client.V1ObjectMeta(name="bindme"), target=client.V1ObjectReference(kind="Node", name="n1")),
            _preload_content=False)
    assert e.value.status == 403 and json.loads(e.value.body)["message"] == f'pods "bindme" is forbidden: {why}'
    # nothing happened to either pod
    assert {p.metadata.name: p.spec.node_name for p in v1.list_namespaced_pod(ns).items} == {
        "evictme": None, "bindme": None}
    for name in ("evictme", "bindme"):
        v1.delete_namespaced_pod(name, ns)
    finalize(v1, ns, [])


def test_kubectl_create_in_a_terminating_namespace(cluster: Cluster, v1: client.CoreV1Api, ns: str) -> None:
    cluster.ok("delete", "namespace", ns, "--wait=false")
    r = cluster.kubectl("-n", ns, "create", "configmap", "late", "--from-literal=a=b")
    assert r.returncode == 1
    assert r.stderr.strip() == (f'error: failed to create configmap: configmaps "late" is forbidden: unable to '
                                f"create new content in namespace {ns} because it is being terminated")
    finalize(v1, ns, [])


def test_finalize_writes_only_spec_finalizers(cluster: Cluster, v1: client.CoreV1Api, ns: str) -> None:
    before = read(v1, ns)
    body = {**before, "spec": {"finalizers": ["example.com/mine"]}, "status": {"phase": "Terminating"}}
    out = json.loads(v1.replace_namespace_finalize(ns, body, _preload_content=False).data)
    assert out["spec"] == {"finalizers": ["example.com/mine"]} and out["status"] == {"phase": "Active"}
    # the main resource may not change spec.finalizers: only finalize does
    cluster.ok("patch", "namespace", ns, "--type=merge", "-p", '{"spec":{"finalizers":["kubernetes"]}}')
    assert read(v1, ns)["spec"] == {"finalizers": ["example.com/mine"]}
    # lifting the last one from an Active namespace deletes nothing; a DELETE then removes it at once
    finalize(v1, ns, [])
    assert read(v1, ns)["spec"] == {}
    code, body = raw_delete(v1, ns)
    assert code == 200 and gone(v1, ns)


def test_metadata_finalizers_hold_a_finalized_namespace(cluster: Cluster, v1: client.CoreV1Api, ns: str) -> None:
    code, body = raw_delete(v1, ns, propagation_policy="Orphan")  # kube puts the orphan finalizer on it
    assert code == 200 and body["metadata"]["finalizers"] == ["orphan"]
    assert body["status"]["phase"] == "Terminating"
    finalize(v1, ns, [])
    held = read(v1, ns)
    assert held["spec"] == {} and held["metadata"]["finalizers"] == ["orphan"]
    cluster.ok("patch", "namespace", ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    assert gone(v1, ns)


def test_create_always_carries_the_kubernetes_finalizer(cluster: Cluster, v1: client.CoreV1Api) -> None:
    name = f"life{next(_ids)}"
    cluster.ok("create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
        "spec": {"finalizers": ["example.com/x"]}, "status": {"phase": "Terminating"}}))
    ns = read(v1, name)
    assert ns["spec"] == {"finalizers": ["example.com/x", "kubernetes"]} and ns["status"] == {"phase": "Active"}
    assert "server dry run" in cluster.ok("delete", "namespace", name, "--dry-run=server")
    assert read(v1, name)["status"] == {"phase": "Active"}
    cluster.ok("delete", "namespace", name, "--wait=false")
    finalize(v1, name, ["example.com/x"])
    assert read(v1, name)["spec"] == {"finalizers": ["example.com/x"]}
    finalize(v1, name, [])
    assert gone(v1, name)


def test_finalize_bad_input(cluster: Cluster, v1: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as e:
        v1.replace_namespace_finalize(ns, client.V1Namespace(metadata=client.V1ObjectMeta(name="someone-else"),
                                                             spec=client.V1NamespaceSpec(finalizers=[])))
    assert e.value.status == 400
    assert json.loads(e.value.body)["message"] == \
        f"the name of the object (someone-else) does not match the name on the URL ({ns})"
    with pytest.raises(ApiException) as e:
        finalize(v1, ns, ["nonstandard"])
    status = json.loads(e.value.body)
    assert e.value.status == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.finalizers[0]",
        "message": 'Invalid value: "nonstandard": name is neither a standard finalizer name nor is it fully '
                   "qualified"}]
    with pytest.raises(ApiException) as e:
        v1.replace_namespace_finalize("no-such-namespace", client.V1Namespace(
            metadata=client.V1ObjectMeta(name="no-such-namespace")))
    assert e.value.status == 404
    err = cluster.fail("patch", "namespace", ns, "--subresource=status", "--type=merge", "-p",
                       '{"status":{"phase":"Terminating"}}')
    assert "status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty" in err
    assert read(v1, ns)["spec"] == {"finalizers": ["kubernetes"]}  # nothing written by the failures
    assert read(v1, ns)["status"] == {"phase": "Active"}
    cluster.ok("delete", "namespace", ns, "--wait=false")
    finalize(v1, ns, [])


def test_kubelite_server_empties_and_removes_a_namespace(tmp_path: Path) -> None:
    """``kubelite server`` with its controllers: ``kubectl delete namespace`` (waiting, as it does by default)
    returns once the namespace controller has emptied it and the namespace is gone."""
    c = start_cluster(tmp_path / "data", control_plane=True)
    try:
        c.ok("create", "namespace", "full")
        c.ok("-n", "full", "create", "deployment", "web", "--image=busybox", "--replicas=2")
        c.ok("-n", "full", "create", "configmap", "conf", "--from-literal=a=b")
        wait_until(lambda: len(c.json("-n", "full", "get", "pods")["items"]) == 2, "the deployment's pods")
        assert c.ok("delete", "namespace", "full").strip() == 'namespace "full" deleted'
        assert "NotFound" in c.fail("get", "namespace", "full")
        for kind in ("deployments", "replicasets", "pods", "configmaps", "serviceaccounts", "events"):
            assert c.json("get", kind, "-A", "--field-selector", "metadata.namespace=full")["items"] == [], kind
    finally:
        stop_cluster(c)


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60  # turns a hang into a failure; says nothing about speed
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
