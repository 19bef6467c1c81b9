"""DeleteOptions as kube-apiserver applies them: grace periods, propagation finalizers, preconditions, dry run."""

from __future__ import annotations

import json
import subprocess
import time

from tests.api.conftest import Cluster

BINDING = '{"apiVersion":"v1","kind":"Binding","metadata":{"name":"%s"},"target":{"kind":"Node","name":"n1"}}'


def bind(cluster: Cluster, pod: str) -> None:
    cluster.ok("create", "--raw", f"/api/v1/namespaces/default/pods/{pod}/binding", "-f", "-", input=BINDING % pod)


def test_unscheduled_pod_goes_at_once(cluster: Cluster) -> None:
    cluster.ok("run", "loose", "--image=nginx")
    start = time.monotonic()
    assert 'pod "loose" deleted' in cluster.ok("delete", "pod", "loose")
    assert time.monotonic() - start < 10
    assert "NotFound" in cluster.fail("get", "pod", "loose")


def test_bound_pod_is_deleted_gracefully(cluster: Cluster) -> None:
    cluster.ok("run", "bound", "--image=nginx")
    bind(cluster, "bound")
    cluster.ok("delete", "pod", "bound", "--wait=false")
    meta = cluster.json("get", "pod", "bound")["metadata"]
    assert isinstance(meta, dict)
    assert meta["deletionGracePeriodSeconds"] == 30 and meta["deletionTimestamp"]
    assert "Terminating" in cluster.ok("get", "pod", "bound")
    # a second delete may only shorten the grace period
    cluster.ok("delete", "pod", "bound", "--wait=false", "--grace-period=60")
    assert cluster.json("get", "pod", "bound")["metadata"]["deletionGracePeriodSeconds"] == 30  # type: ignore[index]
    cluster.ok("delete", "pod", "bound", "--wait=false", "--grace-period=5")
    assert cluster.json("get", "pod", "bound")["metadata"]["deletionGracePeriodSeconds"] == 5  # type: ignore[index]
    # the node agent (or --force) deletes with grace 0
    cluster.ok("delete", "pod", "bound", "--force", "--grace-period=0")
    assert "NotFound" in cluster.fail("get", "pod", "bound")


def test_wait_for_delete_sees_the_watch_event(cluster: Cluster) -> None:
    cluster.ok("run", "waited", "--image=nginx")
    bind(cluster, "waited")
    cluster.ok("delete", "pod", "waited", "--wait=false")
    waiter = subprocess.Popen([*cluster.argv, "wait", "--for=delete",
                               "pod/waited", "--timeout=30s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    time.sleep(1)
    assert waiter.poll() is None  # still terminating
    cluster.ok("delete", "pod", "waited", "--force", "--grace-period=0")
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert "condition met" in out


def test_cascade_policies_set_finalizers(cluster: Cluster) -> None:
    for name, cascade, finalizer in (("orph", "orphan", "orphan"), ("fore", "foreground", "foregroundDeletion")):
        cluster.ok("create", "deployment", name, "--image=nginx")
        cluster.ok("delete", "deployment", name, f"--cascade={cascade}", "--wait=false")
        meta = cluster.json("get", "deployment", name)["metadata"]
        assert isinstance(meta, dict)
        assert meta["finalizers"] == [finalizer] and meta["deletionTimestamp"]
        assert meta["deletionGracePeriodSeconds"] == 0
        # what the garbage collector will do: remove its finalizer, and the object is gone
        cluster.ok("patch", "deployment", name, "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
        assert "NotFound" in cluster.fail("get", "deployment", name)
    cluster.ok("create", "deployment", "back", "--image=nginx")
    cluster.ok("delete", "deployment", "back", "--cascade=background")
    assert "NotFound" in cluster.fail("get", "deployment", "back")


def test_user_finalizers_keep_the_object(cluster: Cluster) -> None:
    cluster.ok("create", "configmap", "held")
    cluster.ok("patch", "configmap", "held", "--type=merge", "-p", '{"metadata":{"finalizers":["example.com/hold"]}}')
    cluster.ok("delete", "configmap", "held", "--wait=false")
    meta = cluster.json("get", "configmap", "held")["metadata"]
    assert isinstance(meta, dict) and meta["deletionTimestamp"] and meta["finalizers"] == ["example.com/hold"]
    cluster.ok("patch", "configmap", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    assert "NotFound" in cluster.fail("get", "configmap", "held")


def raw_delete(cluster: Cluster, path: str, body: dict[str, object]) -> subprocess.CompletedProcess[str]:
    """DELETE with a DeleteOptions body through the official Python client (kubectl has no raw DELETE with one)."""
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    name = path.rsplit("/", 1)[1]
    try:
        out = client.CoreV1Api(api).delete_namespaced_config_map(name, "default", body=body,
                                                                  _preload_content=False)
        return subprocess.CompletedProcess([], 0, out.data.decode(), "")
    except client.ApiException as e:
        body_ = json.loads(e.body) if e.body else {}
        return subprocess.CompletedProcess([], int(e.status), "", str(body_.get("message", "")))
    finally:
        api.close()


def test_preconditions_and_dry_run(cluster: Cluster) -> None:
    cluster.ok("create", "configmap", "pre")
    meta = cluster.json("get", "configmap", "pre")["metadata"]
    assert isinstance(meta, dict)
    path = "/api/v1/namespaces/default/configmaps/pre"
    r = raw_delete(cluster, path, {"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}})
    assert r.returncode == 409 and "Precondition failed: UID in precondition" in r.stderr
    r = raw_delete(cluster, path, {"preconditions": {"resourceVersion": "1"}})
    assert r.returncode == 409 and "Precondition failed: ResourceVersion in precondition" in r.stderr
    r = raw_delete(cluster, path, {"propagationPolicy": "Sometimes"})
    assert r.returncode == 422 and 'propagationPolicy: Unsupported value: "Sometimes"' in r.stderr
    r = raw_delete(cluster, path, {"dryRun": ["All"]})
    assert r.returncode == 0
    cluster.ok("delete", "configmap", "pre", "--dry-run=server")
    assert cluster.json("get", "configmap", "pre")["metadata"]["uid"] == meta["uid"]  # type: ignore[index]
    r = raw_delete(cluster, path, {"preconditions": {"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]}})
    assert r.returncode == 0 and json.loads(r.stdout)["metadata"]["name"] == "pre"
    assert "NotFound" in cluster.fail("get", "configmap", "pre")
