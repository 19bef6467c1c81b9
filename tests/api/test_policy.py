"""policy/v1 PodDisruptionBudgets and apps/v1 ControllerRevisions through kubectl, and the budget check of
``pods/eviction`` through the ``kubernetes`` Python client.

No controllers run here: a test writes a budget's status itself (``kubectl patch --subresource=status``), as
the disruption controller would, so each eviction meets exactly the budget the test describes.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from tests.api.conftest import Cluster

Obj = dict[str, Any]
_ids = itertools.count()


@pytest.fixture(scope="module")
def api(cluster: Cluster) -> Iterator[client.ApiClient]:
    c = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield c
    c.close()


@pytest.fixture
def ns(cluster: Cluster) -> Iterator[str]:
    name = f"pol{next(_ids)}"
    cluster.ok("create", "namespace", name)
    yield name
    cluster.ok("delete", "namespace", name, "--wait=false")


def pdb(name: str, **spec: Any) -> str:
    return json.dumps({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
                       "spec": spec})


def running_pod(cluster: Cluster, ns: str, name: str, labels: dict[str, str], ready: bool = True) -> None:
    """A pod as a kubelet would report it: Running, and Ready or not."""
    cluster.ok("-n", ns, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    flag = "True" if ready else "False"
    cluster.ok("-n", ns, "patch", "pod", name, "--subresource=status", "--type=merge", "-p", json.dumps(
        {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": flag}]}}))


def budget_status(cluster: Cluster, ns: str, name: str, **status: Any) -> None:
    cluster.ok("-n", ns, "patch", "pdb", name, "--subresource=status", "--type=merge", "-p",
               json.dumps({"status": status}))


def evict(api: client.ApiClient, ns: str, pod: str, dry_run: bool = False) -> None:
    body = client.V1Eviction(metadata=client.V1ObjectMeta(name=pod, namespace=ns))
    client.CoreV1Api(api).create_namespaced_pod_eviction(pod, ns, body, dry_run="All" if dry_run else None)


def refusal(api: client.ApiClient, ns: str, pod: str) -> tuple[int, Obj]:
    with pytest.raises(ApiException) as e:
        evict(api, ns, pod)
    out: Obj = json.loads(e.value.body)
    return int(e.value.status), out


def test_create_get_and_explain(cluster: Cluster, ns: str) -> None:
    cluster.ok("-n", ns, "create", "pdb", "web", "--selector=app=web", "--min-available=2")  # a protobuf body
    cluster.ok("-n", ns, "create", "pdb", "db", "--selector=app=db", "--max-unavailable=25%")
    lines = cluster.ok("-n", ns, "get", "pdb").splitlines()
    assert lines[0].split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS", "AGE"]
    rows = sorted(line.split()[:4] for line in lines[1:])
    assert rows == [["db", "N/A", "25%", "0"], ["web", "2", "N/A", "0"]]
    web = cluster.json("-n", ns, "get", "poddisruptionbudgets.policy", "web")
    assert web["spec"] == {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}
    assert web["status"] == {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
    assert web["metadata"]["generation"] == 1  # type: ignore[index]

    resources = cluster.ok("api-resources", "--api-group=policy")
    assert any(line.split()[:4] == ["poddisruptionbudgets", "pdb", "policy/v1", "true"]
               for line in resources.splitlines())
    apps = cluster.ok("api-resources", "--api-group=apps")
    assert any(line.split()[:3] == ["controllerrevisions", "apps/v1", "true"] for line in apps.splitlines())
    explained = cluster.ok("explain", "pdb.spec.maxUnavailable")
    assert "GROUP:      policy\nKIND:       PodDisruptionBudget\nVERSION:    v1" in explained

    # the status subresource: the main resource cannot change it, spec changes bump the generation
    cluster.ok("-n", ns, "patch", "pdb", "web", "--type=merge", "-p",
               '{"spec": {"minAvailable": 3}, "status": {"disruptionsAllowed": 5}}')
    web = cluster.json("-n", ns, "get", "pdb", "web")
    assert web["status"]["disruptionsAllowed"] == 0 and web["metadata"]["generation"] == 2  # type: ignore[index]
    err = cluster.fail("-n", ns, "patch", "pdb", "web", "--subresource=status", "--type=merge", "-p",
                       '{"status": {"disruptionsAllowed": -1}}')
    assert "status.disruptionsAllowed: Invalid value: -1: must be greater than or equal to 0" in err


@pytest.mark.parametrize(("spec", "message"), [
    ({"minAvailable": 1, "maxUnavailable": 1}, "spec: Invalid value: minAvailable and maxUnavailable cannot be "
                                               "both set"),
    ({}, "spec: Required value: exactly one of minAvailable or maxUnavailable must be set"),
    ({"minAvailable": "150%"}, 'spec.minAvailable: Invalid value: "150%": must not be greater than 100%'),
    ({"maxUnavailable": -1}, "spec.maxUnavailable: Invalid value: -1: must be greater than or equal to 0"),
    ({"maxUnavailable": "half"}, "spec.maxUnavailable: Invalid value: \"half\": must be an integer or percentage"),
    ({"minAvailable": 1, "unhealthyPodEvictionPolicy": "Never"},
     'spec.unhealthyPodEvictionPolicy: Unsupported value: "Never"'),
    ({"minAvailable": 1, "selector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
     "spec.selector.matchExpressions[0].values: Required value"),
])
def test_validation(cluster: Cluster, ns: str, spec: Obj, message: str) -> None:
    err = cluster.fail("-n", ns, "apply", "-f", "-", input=pdb("bad", **spec))
    assert 'PodDisruptionBudget "bad" is invalid' in err and message in err, err
    assert "Traceback" not in err


def test_controller_revisions(cluster: Cluster, ns: str) -> None:
    rev = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
           "metadata": {"name": "ds-abc", "ownerReferences": [
               {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "uid": "u1", "controller": True}]},
           "data": {"spec": {"template": {"$patch": "replace"}}}, "revision": 3}
    cluster.ok("-n", ns, "create", "-f", "-", input=json.dumps(rev))
    row = cluster.ok("-n", ns, "get", "controllerrevisions").splitlines()
    assert row[0].split() == ["NAME", "CONTROLLER", "REVISION", "AGE"]
    assert row[1].split()[:3] == ["ds-abc", "daemonset.apps/ds", "3"]
    err = cluster.fail("-n", ns, "patch", "controllerrevision", "ds-abc", "--type=merge", "-p", '{"data": {"x": 1}}')
    assert "data: Invalid value" in err and "field is immutable" in err
    cluster.ok("-n", ns, "patch", "controllerrevision", "ds-abc", "--type=merge", "-p", '{"revision": 4}')
    assert cluster.json("-n", ns, "get", "controllerrevision", "ds-abc")["revision"] == 4
    err = cluster.fail("-n", ns, "create", "-f", "-", input=json.dumps({**rev, "metadata": {"name": "x"},
                                                                        "data": None, "revision": -1}))
    assert "data: Required value" in err and "revision: Invalid value: -1" in err


def test_eviction_respects_the_budget(cluster: Cluster, api: client.ApiClient, ns: str) -> None:
    for i in range(3):
        running_pod(cluster, ns, f"web-{i}", {"app": "web"})
    cluster.ok("-n", ns, "apply", "-f", "-", input=pdb("web", minAvailable=2,
                                                          selector={"matchLabels": {"app": "web"}}))

    # a budget its controller has not computed yet refuses everything
    code, body = refusal(api, ns, "web-0")
    assert code == 429 and body["reason"] == "TooManyRequests"
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["details"]["causes"] == [{"reason": "DisruptionBudget", "message":
                                          "The disruption budget web is still being processed by the server."}]

    budget_status(cluster, ns, "web", observedGeneration=1, disruptionsAllowed=1, currentHealthy=3,
                  desiredHealthy=2, expectedPods=3)
    evict(api, ns, "web-0", dry_run=True)  # a dry run spends nothing and deletes nothing
    assert cluster.json("-n", ns, "get", "pdb", "web")["status"]["disruptionsAllowed"] == 1  # type: ignore[index]
    evict(api, ns, "web-0")
    assert cluster.kubectl("-n", ns, "get", "pod", "web-0").returncode != 0  # unbound: deleted at once
    status = cluster.json("-n", ns, "get", "pdb", "web")["status"]
    assert isinstance(status, dict)
    assert status["disruptionsAllowed"] == 0 and list(status["disruptedPods"]) == ["web-0"]
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == \
        [("DisruptionAllowed", "False", "InsufficientPods")]

    code, body = refusal(api, ns, "web-1")  # the budget is spent
    assert code == 429 and body["details"]["causes"][0]["message"] == \
        "The disruption budget web needs 2 healthy pods and has 3 currently"
    assert cluster.json("-n", ns, "get", "pod", "web-1")["metadata"]

    # a pod that is not running yet needs no budget
    cluster.ok("-n", ns, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-pending", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    evict(api, ns, "web-pending")
    assert cluster.kubectl("-n", ns, "get", "pod", "web-pending").returncode != 0
    # nor does a finished one
    cluster.ok("-n", ns, "patch", "pod", "web-1", "--subresource=status", "--type=merge", "-p",
               '{"status": {"phase": "Succeeded"}}')
    evict(api, ns, "web-1")
    assert cluster.kubectl("-n", ns, "get", "pod", "web-1").returncode != 0
    assert cluster.json("-n", ns, "get", "pdb", "web")["status"]["disruptionsAllowed"] == 0  # type: ignore[index]


def test_unready_pods_and_overlapping_budgets(cluster: Cluster, api: client.ApiClient, ns: str) -> None:
    running_pod(cluster, ns, "a-0", {"app": "a"})
    running_pod(cluster, ns, "a-1", {"app": "a"}, ready=False)
    cluster.ok("-n", ns, "apply", "-f", "-", input=pdb("a", maxUnavailable=0, selector={"matchLabels": {"app": "a"}}))
    budget_status(cluster, ns, "a", observedGeneration=1, disruptionsAllowed=0, currentHealthy=1,
                  desiredHealthy=1, expectedPods=2)
    evict(api, ns, "a-1")  # not Ready and the budget is healthy without it (IfHealthyBudget)
    assert refusal(api, ns, "a-0")[0] == 429

    running_pod(cluster, ns, "b-0", {"app": "b", "tier": "x"})
    cluster.ok("-n", ns, "apply", "-f", "-", input=pdb("b1", minAvailable=0, selector={"matchLabels": {"app": "b"}}))
    cluster.ok("-n", ns, "apply", "-f", "-", input=pdb("b2", minAvailable=0, selector={"matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["x"]}]}))
    code, body = refusal(api, ns, "b-0")
    assert code == 500 and body["reason"] == "InternalError"
    assert body["message"] == ("Internal error occurred: This pod has more than one PodDisruptionBudget, which the "
                               "eviction subresource does not support.")
    cluster.ok("-n", ns, "delete", "pdb", "b2")
    budget_status(cluster, ns, "b1", observedGeneration=1, disruptionsAllowed=1, currentHealthy=1, expectedPods=1)
    evict(api, ns, "b-0")
    assert cluster.kubectl("-n", ns, "get", "pod", "b-0").returncode != 0


def test_racing_evictions_spend_the_last_disruption_once(cluster: Cluster, api: client.ApiClient, ns: str) -> None:
    """The budget is spent with a compare-and-swap: of evictions racing for one disruption, exactly one wins."""
    pods = [f"r-{i}" for i in range(4)]
    for name in pods:
        running_pod(cluster, ns, name, {"app": "r"})
    cluster.ok("-n", ns, "apply", "-f", "-", input=pdb("r", minAvailable=3, selector={"matchLabels": {"app": "r"}}))
    budget_status(cluster, ns, "r", observedGeneration=1, disruptionsAllowed=1, currentHealthy=4, desiredHealthy=3,
                  expectedPods=4)
    codes: list[int] = []

    def one(pod: str) -> None:
        try:
            evict(api, ns, pod)
            codes.append(201)
        except ApiException as e:
            codes.append(int(e.status))

    threads = [threading.Thread(target=one, args=(p,)) for p in pods]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201, 429, 429, 429]
    status = cluster.json("-n", ns, "get", "pdb", "r")["status"]
    assert isinstance(status, dict) and status["disruptionsAllowed"] == 0 and len(status["disruptedPods"]) == 1
    left = cluster.json("-n", ns, "get", "pods")["items"]
    assert isinstance(left, list) and len(left) == 3
    assert {p["metadata"]["name"] for p in left} | set(status["disruptedPods"]) == set(pods)
