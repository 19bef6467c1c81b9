"""The pod garbage collector against a real API server: orphans, the terminated threshold, stuck deletions.

Only podgc runs (and the DaemonSet controller, for the tests that make a
DaemonSet), with a 0.3 s period, a 1 s quarantine and a threshold of 3
terminated pods, so no other controller (and no kubelet) can explain a pod's
fate. Pods are placed with ``spec.nodeName`` at creation, as a scheduler's
binding would leave them; Node objects come from :mod:`tests.controllers.nodesim`.

"Not deleted" is checked after :func:`settle`: it waits until podgc has marked a
fresh unscheduled terminating pod Failed, which only a pass that began after the
call does, and every earlier pass finished its deletions before that one began
(one pass at a time), so whatever podgc would have done wrongly is done by then.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from kubelite.api.client import resource_path
from kubelite.api.informer import Informer
from kubelite.controllers.daemonset_nodes import target_node
from kubelite.controllers.options import ControllerOptions
from kubelite.controllers.podgc import gc_order, out_of_service, terminated_surplus, with_condition
from kubelite.errors import NotFound
from tests.controllers.conftest import ControllerHarness
from tests.controllers.nodesim import node_object, simulate

CONTROLLERS = {"pod-garbage-collector", "daemonset"}  # the DaemonSet only where a test makes one
CONTROLLER_OPTIONS = ControllerOptions(pod_gc_period=0.3, pod_gc_quarantine=1.0, terminated_pod_gc_threshold=3)
HOLD = "test.kubelite.io/hold"
Obj = dict[str, Any]
_ids = itertools.count()


def pod_json(name: str, node: str | None = None, finalizers: list[str] | None = None) -> str:
    spec: Obj = {"containers": [{"name": "c", "image": "busybox:1"}], "terminationGracePeriodSeconds": 30}
    if node:
        spec["nodeName"] = node
    md: Obj = {"name": name, **({"finalizers": finalizers} if finalizers else {})}
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec})


def get_pod(h: ControllerHarness, ns: str, name: str) -> Obj | None:
    try:
        out: Obj = h.run(h.client.get(resource_path("v1", "pods", ns, name)))
        return out
    except NotFound:
        return None


def set_phase(h: ControllerHarness, ns: str, name: str, phase: str) -> None:
    h.run(h.client.patch(resource_path("v1", "pods", ns, name, "status"), {"status": {"phase": phase}}))


def settle(h: ControllerHarness, ns: str) -> None:
    """Return once a podgc pass that started after this call has finished its work (see the module's note).

    Not while a :func:`~tests.controllers.nodesim.simulate` block runs: its scheduler stand-in would bind the pod."""
    name = f"settle-{next(_ids)}"
    h.ok("-n", ns, "create", "-f", "-", input=pod_json(name, finalizers=[HOLD]))
    h.ok("-n", ns, "delete", "pod", name, "--wait=false")
    h.wait_for(lambda: ((get_pod(h, ns, name) or {}).get("status") or {}).get("phase") == "Failed",
               "podgc to mark the unscheduled terminating pod Failed")
    h.run(h.client.patch(resource_path("v1", "pods", ns, name), {"metadata": {"finalizers": None}}))
    h.wait_for(lambda: get_pod(h, ns, name) is None, "the released pod to go")


class Deletions:
    """The last state of every pod of a namespace deleted while it runs, as a watch delivers it."""

    def __init__(self, h: ControllerHarness, ns: str) -> None:
        self.h = h
        self.seen: dict[str, Obj] = {}
        self.informer = Informer(h.client, resource_path("v1", "pods", ns), name="podgc test")

    def __enter__(self) -> Deletions:
        def on(etype: str, pod: Obj, old: Obj | None) -> None:
            if etype == "DELETED":
                self.seen[pod["metadata"]["name"]] = pod

        async def start() -> None:
            self.informer.add_handler(on)
            await self.informer.start()
        self.h.run(start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.h.run(self.informer.stop())


@pytest.fixture
def nodes(controllers: ControllerHarness) -> Iterator[list[str]]:
    """Names for the test's Node objects (cluster-wide), deleted afterwards."""
    i = next(_ids)
    names = [f"pgc{i}-n{k}" for k in range(2)]
    yield names
    for n in names:
        controllers.kubectl("delete", "node", n, "--ignore-not-found")


def add_node(h: ControllerHarness, name: str, ready: str = "True", taints: list[Obj] | None = None) -> None:
    h.ok("create", "-f", "-", input=json.dumps(node_object(name, taints=taints)))
    h.run(h.client.patch(resource_path("v1", "nodes", None, name, "status"),
                         {"status": {"conditions": [{"type": "Ready", "status": ready}]}}))


def test_pods_of_a_vanished_node_are_deleted_after_quarantine(controllers: ControllerHarness, ns: str,
                                                              nodes: list[str]) -> None:
    h = controllers
    real, gone = nodes[0], nodes[1]  # ``gone`` is never created
    add_node(h, real)
    with Deletions(h, ns) as deleted:
        h.ok("-n", ns, "create", "-f", "-", input=pod_json("kept", real))
        h.ok("-n", ns, "create", "-f", "-", input=pod_json("orphan", gone))
        h.ok("-n", ns, "create", "-f", "-", input=pod_json("done-orphan", gone))
        set_phase(h, ns, "done-orphan", "Succeeded")
        h.wait_for(lambda: {"orphan", "done-orphan"} <= deleted.seen.keys(), "the orphaned pods to be deleted")

        # a running orphan is marked Failed, with kube 1.32's DisruptionTarget condition, before it goes
        last = deleted.seen["orphan"]
        assert last["status"]["phase"] == "Failed"
        cond = next(c for c in last["status"]["conditions"] if c["type"] == "DisruptionTarget")
        assert (cond["status"], cond["reason"], cond["message"]) == (
            "True", "DeletionByPodGC", "PodGC: node no longer exists")
        assert cond["lastTransitionTime"]
        # one that had already finished keeps its phase and gets no condition
        done = deleted.seen["done-orphan"]
        assert done["status"]["phase"] == "Succeeded"
        assert not [c for c in done["status"].get("conditions") or [] if c["type"] == "DisruptionTarget"]

        settle(h, ns)
        kept = get_pod(h, ns, "kept")
        assert kept is not None and not kept["metadata"].get("deletionTimestamp")
        assert "kept" not in deleted.seen
    assert "NotFound" in h.fail("-n", ns, "get", "pod", "orphan")


def test_terminated_pods_beyond_the_threshold_go_oldest_first(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    names = [f"p{k}" for k in range(5)]  # creation order = name order, the tie-break of equal timestamps
    for n in names:
        h.ok("-n", ns, "create", "-f", "-", input=pod_json(n))
    h.ok("-n", ns, "create", "-f", "-", input=pod_json("running"))
    for n in names:
        set_phase(h, ns, n, "Succeeded" if n != "p3" else "Failed")
    h.wait_for(lambda: sorted(p["metadata"]["name"] for p in h.pods(ns)) == ["p2", "p3", "p4", "running"],
               "the two oldest terminated pods to be deleted")
    # leave no terminated pods behind: the threshold counts every namespace
    h.ok("-n", ns, "delete", "pod", "p2", "p3", "p4", "running", "--grace-period=0", "--force")


def test_unscheduled_terminating_pod_is_failed_and_deleted(controllers: ControllerHarness, ns: str) -> None:
    """The pod's finalizer keeps it until released (a grace-0 delete cannot override that, in kube either);
    what podgc visibly does is mark it Failed, as no kubelet ever will; released, it is gone."""
    h = controllers
    h.ok("-n", ns, "create", "-f", "-", input=pod_json("stuck", finalizers=[HOLD]))
    h.ok("-n", ns, "delete", "pod", "stuck", "--wait=false")
    pod = h.wait_for(lambda: (p := get_pod(h, ns, "stuck")) and p["status"].get("phase") == "Failed" and p,
                     "podgc to mark the terminating pod Failed")
    assert pod["metadata"]["deletionTimestamp"]
    assert not [c for c in pod["status"].get("conditions") or [] if c["type"] == "DisruptionTarget"]
    h.run(h.client.patch(resource_path("v1", "pods", ns, "stuck"), {"metadata": {"finalizers": None}}))
    h.wait_for(lambda: get_pod(h, ns, "stuck") is None, "the released pod to go")


def test_terminating_pods_on_an_out_of_service_node_are_force_deleted(controllers: ControllerHarness, ns: str,
                                                                      nodes: list[str]) -> None:
    h = controllers
    oos, down = nodes
    add_node(h, oos, "False", taints=[{"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown",
                                       "effect": "NoExecute"}])
    add_node(h, down, "False")
    with Deletions(h, ns) as deleted:
        h.ok("-n", ns, "create", "-f", "-", input=pod_json("on-oos", oos))
        h.ok("-n", ns, "create", "-f", "-", input=pod_json("on-down", down))
        h.ok("-n", ns, "create", "-f", "-", input=pod_json("alive-on-oos", oos))
        h.ok("-n", ns, "delete", "pod", "on-oos", "on-down", "--wait=false")
        h.wait_for(lambda: "on-oos" in deleted.seen, "the terminating pod on the out-of-service node to go")
        assert deleted.seen["on-oos"]["status"]["phase"] == "Failed"
        settle(h, ns)
        # without the taint no one can tell the node is really down: its terminating pod waits for its kubelet;
        # and a pod nobody deleted stays even on an out-of-service node
        stuck = get_pod(h, ns, "on-down")
        assert stuck is not None and stuck["metadata"].get("deletionTimestamp")
        assert get_pod(h, ns, "alive-on-oos") is not None
        assert not {"on-down", "alive-on-oos"} & deleted.seen.keys()
    h.ok("-n", ns, "delete", "pod", "on-down", "alive-on-oos", "--grace-period=0", "--force")


def ds_json(name: str) -> str:
    return json.dumps({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
                       "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
                           "metadata": {"labels": {"app": name}},
                           "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}}})


def daemon_pods(h: ControllerHarness, ns: str, nodes: list[str]) -> dict[str, list[Obj]]:
    """The DaemonSet's live pods by target node, for the test's nodes only (other tests' nodes may exist)."""
    out: dict[str, list[Obj]] = {}
    for p in h.pods(ns, "app=agent"):
        if not p["metadata"].get("deletionTimestamp") and target_node(p) in nodes:
            out.setdefault(target_node(p) or "", []).append(p)
    return out


def test_a_daemon_pod_of_a_deleted_node_is_podgcs_to_delete(controllers: ControllerHarness, ns: str,
                                                            nodes: list[str]) -> None:
    """As in kube, the DaemonSet controller leaves a bound pod of a vanished node alone and podgc deletes it."""
    h = controllers
    a, b = nodes
    add_node(h, a)
    add_node(h, b)
    with simulate(h, ns, nodes), Deletions(h, ns) as deleted:
        h.ok("-n", ns, "apply", "-f", "-", input=ds_json("agent"))
        h.wait_for(lambda: all(p["spec"].get("nodeName") == n for n in nodes
                               for p in daemon_pods(h, ns, nodes).get(n, [None]) if p) and
                   sorted(daemon_pods(h, ns, nodes)) == sorted(nodes), "a bound daemon pod on each node")
        on_b = daemon_pods(h, ns, nodes)[b][0]["metadata"]["name"]
        h.ok("delete", "node", b)
        h.wait_for(lambda: on_b in deleted.seen, "the daemon pod of the deleted node to go")
        cond = [c for c in deleted.seen[on_b]["status"].get("conditions") or [] if c["type"] == "DisruptionTarget"]
        assert [c["reason"] for c in cond] == ["DeletionByPodGC"]
    settle(h, ns)  # outside the simulation, which would bind the settling pod
    assert sorted(daemon_pods(h, ns, nodes)) == [a]  # no replacement for the vanished node, a's pod stays
    h.ok("-n", ns, "delete", "ds", "agent")


def test_an_unbound_daemon_pod_of_a_deleted_node_is_the_daemonsets_to_delete(controllers: ControllerHarness,
                                                                             ns: str, nodes: list[str]) -> None:
    """No scheduler binds the pods here, so podgc (which only looks at bound pods) cannot be the one."""
    h = controllers
    a, b = nodes
    add_node(h, a)
    add_node(h, b)
    h.ok("-n", ns, "apply", "-f", "-", input=ds_json("agent"))
    h.wait_for(lambda: sorted(daemon_pods(h, ns, nodes)) == sorted(nodes), "a daemon pod pinned to each node")
    h.ok("delete", "node", b)
    h.wait_for(lambda: sorted(daemon_pods(h, ns, nodes)) == [a], "the pod pinned to the deleted node to go")
    h.ok("-n", ns, "delete", "ds", "agent")


def test_the_rules_in_isolation() -> None:
    def pod(name: str, created: str, phase: str = "Succeeded", reason: str | None = None) -> Obj:
        return {"metadata": {"name": name, "creationTimestamp": created},
                "status": {"phase": phase, **({"reason": reason} if reason else {})}}

    old, new, same = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"
    pods = [pod("b", new), pod("a", old), pod("c", same), pod("e", new, "Failed", "Evicted"),
            pod("r", old, "Running")]
    assert [p["metadata"]["name"] for p in sorted(pods[:4], key=gc_order)] == ["e", "a", "c", "b"]
    assert [p["metadata"]["name"] for p in terminated_surplus(pods, 2)] == ["e", "a"]
    assert terminated_surplus(pods, 0) == [] and terminated_surplus(pods, 4) == []
    assert out_of_service({"spec": {"taints": [{"key": "node.kubernetes.io/out-of-service", "effect": "NoExecute"}]},
                           "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}})
    assert not out_of_service({"spec": {"taints": [{"key": "node.kubernetes.io/out-of-service"}]},
                               "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    cond = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC", "message": "m"}
    kept = with_condition([{"type": "DisruptionTarget", "status": "True", "lastTransitionTime": "then"},
                           {"type": "Ready", "status": "True"}], cond)
    assert kept[-1] == {**cond, "lastTransitionTime": "then"} and kept[0]["type"] == "Ready"
    flipped = with_condition([{"type": "DisruptionTarget", "status": "False", "lastTransitionTime": "then"}], cond)
    assert flipped[0]["lastTransitionTime"] != "then"


def test_the_server_takes_the_threshold_flag() -> None:
    from kubelite.cli.server import control_plane_options, parse

    opts = control_plane_options(parse(["--terminated-pod-gc-threshold", "7"]))
    assert isinstance(opts, ControllerOptions) and opts.terminated_pod_gc_threshold == 7
    default = control_plane_options(parse([]))
    assert isinstance(default, ControllerOptions) and default.terminated_pod_gc_threshold == 12500
