"""The disruption controller and PDB-aware eviction, through kubectl: budgets computed from the pods and their
controllers' scale, ``kubectl drain`` held back by a budget and let through once there are pods to spare.

:mod:`tests.controllers.nodesim` binds pods to fake nodes, marks them Ready and finishes their graceful
deletion, as the scheduler and kubelets would.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.controllers.conftest import ControllerHarness
from tests.controllers.nodesim import fake_nodes, node_object, simulate

CONTROLLERS = {"disruption", "replicaset", "deployment", "statefulset"}
Obj = dict[str, Any]
_ids = itertools.count()


def deployment(name: str, replicas: int) -> str:
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {
            "containers": [{"name": "c", "image": "busybox"}], "terminationGracePeriodSeconds": 5}}}})


def budget(h: ControllerHarness, ns: str, name: str) -> Obj:
    out: Obj = h.json("-n", ns, "get", "pdb", name)
    return out


def counts(h: ControllerHarness, ns: str, name: str) -> tuple[int, int, int, int]:
    """(expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed) once the controller has seen the spec."""
    pdb = budget(h, ns, name)
    st = pdb.get("status") or {}
    if st.get("observedGeneration") != pdb["metadata"]["generation"]:
        return (-1, -1, -1, -1)
    return (st.get("expectedPods", 0), st.get("desiredHealthy", 0), st.get("currentHealthy", 0),
            st.get("disruptionsAllowed", 0))


def condition(h: ControllerHarness, ns: str, name: str) -> tuple[str, str]:
    conds = [c for c in budget(h, ns, name)["status"].get("conditions") or [] if c["type"] == "DisruptionAllowed"]
    return (conds[0]["status"], conds[0]["reason"]) if conds else ("", "")


def test_status_from_pods_and_scale(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    node = f"dis{next(_ids)}-{ns}"
    with fake_nodes(h, node_object(node)), simulate(h, ns, [node]):
        h.ok("-n", ns, "create", "pdb", "none", "--selector=app=nothing", "--min-available=1")
        h.wait_for(lambda: counts(h, ns, "none") == (0, 1, 0, 0), "a budget without pods")
        assert condition(h, ns, "none") == ("False", "InsufficientPods")
        h.wait_for(lambda: "No matching pods found" in h.ok("-n", ns, "get", "events"), "the NoPods event")

        h.ok("-n", ns, "apply", "-f", "-", input=deployment("web", 4))
        h.ok("-n", ns, "rollout", "status", "deploy/web", "--timeout=60s")
        # maxUnavailable: a share of the Deployment's scale, rounded up
        h.ok("-n", ns, "create", "pdb", "web", "--selector=app=web", "--max-unavailable=30%")
        h.wait_for(lambda: counts(h, ns, "web") == (4, 2, 4, 2), "web's budget")
        assert condition(h, ns, "web") == ("True", "SufficientPods")
        row = h.ok("-n", ns, "get", "pdb", "web", "--no-headers").split()
        assert row[:4] == ["web", "N/A", "30%", "2"]

        # the desired scale, not the pods that happen to exist, is what a percentage counts
        h.ok("-n", ns, "scale", "deploy/web", "--replicas=6")
        h.wait_for(lambda: counts(h, ns, "web") in ((6, 4, 4, 0), (6, 4, 5, 1), (6, 4, 6, 2)), "the new scale")
        h.wait_for(lambda: counts(h, ns, "web") == (6, 4, 6, 2), "web's budget at six replicas")
        # a spec change: an integer minAvailable counts the pods selected
        h.ok("-n", ns, "patch", "pdb", "web", "--type=merge", "-p", '{"spec": {"maxUnavailable": null, '
             '"minAvailable": 5}}')
        h.wait_for(lambda: counts(h, ns, "web") == (6, 5, 6, 1), "the minAvailable budget")
        described = h.ok("-n", ns, "describe", "pdb", "web")
        for line in ("Min available:  5", "Selector:       app=web", "Allowed disruptions:  1", "Current:              6",
                     "Desired:              5", "Total:                6"):
            assert line in described, described

        # a recorded disruption keeps its pod out of the healthy count for two minutes, not longer
        pods = sorted(p["metadata"]["name"] for p in h.pods(ns, "app=web"))
        fresh = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        stale = (datetime.now(UTC) - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
        h.ok("-n", ns, "patch", "pdb", "web", "--subresource=status", "--type=merge", "-p",
             json.dumps({"status": {"disruptedPods": {pods[0]: fresh, pods[1]: stale}}}))
        h.wait_for(lambda: counts(h, ns, "web") == (6, 5, 5, 0), "the fresh disruption counted")
        assert list(budget(h, ns, "web")["status"]["disruptedPods"]) == [pods[0]]
        assert condition(h, ns, "web") == ("False", "InsufficientPods")


def test_drain_waits_for_the_budget(controllers: ControllerHarness, ns: str) -> None:
    """``kubectl drain`` retries evictions the budget refuses (429) until its timeout, and gets through once
    there are replicas to spare."""
    h = controllers
    i = next(_ids)
    a, b = f"dra{i}-{ns}", f"drb{i}-{ns}"
    with fake_nodes(h, node_object(a), node_object(b)), simulate(h, ns, [a]) as sim:
        h.ok("-n", ns, "apply", "-f", "-", input=deployment("web", 2))
        h.ok("-n", ns, "rollout", "status", "deploy/web", "--timeout=60s")
        h.ok("-n", ns, "create", "pdb", "web", "--selector=app=web", "--min-available=2")
        h.wait_for(lambda: counts(h, ns, "web") == (2, 2, 2, 0), "web's budget")

        sim.nodes = [b]  # the stand-in scheduler places new pods on the other node
        r = h.kubectl("drain", a, "--timeout=8s", timeout=60)
        assert r.returncode != 0
        assert "Cannot evict pod as it would violate the pod's disruption budget." in r.stderr, r.stderr
        assert {p["spec"]["nodeName"] for p in h.pods(ns, "app=web")} == {a}  # nothing was evicted
        assert h.json("get", "node", a)["spec"]["unschedulable"] is True  # drain cordoned it first

        h.ok("-n", ns, "scale", "deploy/web", "--replicas=3")  # a third pod, on b: one disruption to spare
        h.wait_for(lambda: counts(h, ns, "web") == (3, 2, 3, 1), "a disruption to spare")
        r = h.kubectl("drain", a, "--timeout=120s", timeout=180)
        assert r.returncode == 0, r.stderr
        assert f"node/{a} drained" in r.stdout
        h.wait_for(lambda: sorted(p["spec"].get("nodeName") for p in h.pods(ns, "app=web")
                                  if not p["metadata"].get("deletionTimestamp")) == [b, b, b],
                   "every web pod on the other node")
        h.wait_for(lambda: counts(h, ns, "web") == (3, 2, 3, 1), "the budget restored")
        h.ok("uncordon", a)


def test_pods_without_a_scale(controllers: ControllerHarness, ns: str) -> None:
    """A percentage needs the controllers' scale: bare pods are left out (with a warning), a controller without
    a scale makes the budget fail safe; an integer minAvailable needs neither."""
    h = controllers
    job_ref = {"apiVersion": "batch/v1", "kind": "Job", "name": "batch", "uid": "1e7b4a9c-0000-4000-8000-000000000001",
               "controller": True}
    for name, refs in (("bare", []), ("worker", [job_ref])):
        h.ok("-n", ns, "apply", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name},
                                                            "ownerReferences": refs},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    h.make_ready(ns)

    h.ok("-n", ns, "create", "pdb", "bare", "--selector=app=bare", "--max-unavailable=1")
    h.wait_for(lambda: counts(h, ns, "bare") == (0, 0, 1, 0), "the bare pod left out of the scale")
    h.wait_for(lambda: "were found to be unmanaged" in h.ok("-n", ns, "get", "events",
                                                             "--field-selector=involvedObject.name=bare"),
               "the UnmanagedPods warning")

    h.ok("-n", ns, "create", "pdb", "worker", "--selector=app=worker", "--min-available=50%")
    h.wait_for(lambda: condition(h, ns, "worker")[1] == "SyncFailed", "the budget failing safe")
    st = budget(h, ns, "worker")["status"]
    assert st["disruptionsAllowed"] == 0
    assert "has no scale subresource" in [c for c in st["conditions"] if c["type"] == "DisruptionAllowed"][0]["message"]

    h.ok("-n", ns, "patch", "pdb", "worker", "--type=merge", "-p", '{"spec": {"minAvailable": 0}}')
    h.wait_for(lambda: counts(h, ns, "worker") == (1, 0, 1, 1), "an integer budget over the pods themselves")
    assert condition(h, ns, "worker") == ("True", "SufficientPods")
