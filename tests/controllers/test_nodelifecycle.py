"""Node lifecycle: a node whose Lease stops being renewed goes Unknown, is tainted, and its pods are evicted.

Nodes are Node objects with Leases in ``kube-node-lease``; a heartbeat task
plays the agents of the nodes that stay alive by renewing their Leases. The grace
period is shortened to 3 s (fifteen of the test's 0.2 s heartbeats, so a loaded
machine does not fail a live node); pods state their own ``tolerationSeconds``
(the user's way; the server defaults 300 s), so eviction order is shown by which
pods go and which stay, not by timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from kubelite.api.client import resource_path
from kubelite.controllers.options import ControllerOptions
from kubelite.errors import KubeliteError
from tests.controllers.conftest import ControllerHarness

CONTROLLERS = {"nodelifecycle", "replicaset"}
CONTROLLER_OPTIONS = ControllerOptions(node_monitor_grace_period=3, node_monitor_period=0.5)
Obj = dict[str, Any]
LEASES = ("coordination.k8s.io/v1", "leases", "kube-node-lease")


def micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Heartbeats:
    """The agents of the nodes in ``alive``: they renew their Leases and, like a kubelet posting status, put
    back the conditions they want (:meth:`want`) whenever the Node shows others (say Unknown, after a stall
    of this very test on a loaded machine)."""

    def __init__(self, h: ControllerHarness) -> None:
        self.h = h
        self.alive: set[str] = set()
        self.wanted: dict[str, dict[str, str]] = {}
        self.task: asyncio.Task[None] | None = None

    def want(self, name: str, **conditions: str) -> None:
        """Node ``name`` is alive and reports ``conditions`` (``Ready="True"``, ``MemoryPressure="True"``)."""
        self.wanted[name] = conditions
        self.alive.add(name)
        post_conditions(self.h, name, conditions)

    async def _beat(self) -> None:
        while True:
            for name in list(self.alive):
                with contextlib.suppress(KubeliteError):
                    await self.h.client.patch(resource_path(*LEASES, name), {"spec": {"renewTime": micro_now()}})
                    n = await self.h.client.get(resource_path("v1", "nodes", None, name))
                    seen = {c["type"]: c["status"] for c in (n.get("status") or {}).get("conditions") or []}
                    if name in self.wanted and seen != self.wanted[name]:
                        await self.h.client.patch(resource_path("v1", "nodes", None, name, "status"),
                                                  {"status": {"conditions": conditions(self.wanted[name])}})
            await asyncio.sleep(0.2)

    def start(self) -> None:
        async def go() -> asyncio.Task[None]:
            return asyncio.create_task(self._beat())
        self.task = self.h.run(go())

    def stop(self) -> None:
        async def halt() -> None:
            assert self.task is not None
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.h.run(halt())


@pytest.fixture
def beats(controllers: ControllerHarness) -> Iterator[Heartbeats]:
    b = Heartbeats(controllers)
    b.start()
    yield b
    b.stop()


def add_node(h: ControllerHarness, name: str) -> None:
    """A Node that reported Ready once, and its Lease, renewed once."""
    h.ok("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}))
    post_conditions(h, name, {"Ready": "True"})
    h.ok("create", "-f", "-", input=json.dumps({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": micro_now()}}))


def conditions(wanted: dict[str, str]) -> list[Obj]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [{"type": t, "status": s, "reason": "KubeletReady" if (t, s) == ("Ready", "True") else "Reported",
             "message": "", "lastHeartbeatTime": now, "lastTransitionTime": now} for t, s in wanted.items()]


def post_conditions(h: ControllerHarness, name: str, wanted: dict[str, str]) -> None:
    """What the agent writes: its conditions with a fresh heartbeat."""
    h.run(h.client.patch(resource_path("v1", "nodes", None, name, "status"),
                         {"status": {"conditions": conditions(wanted)}}))


def node(h: ControllerHarness, name: str) -> Obj:
    out: Obj = h.run(h.client.get(resource_path("v1", "nodes", None, name)))
    return out


def ready(n: Obj) -> Obj:
    return next(c for c in n["status"]["conditions"] if c["type"] == "Ready")


def taints(n: Obj) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in (n.get("spec") or {}).get("taints") or []}


def add_pod(h: ControllerHarness, ns: str, name: str, node_name: str, tolerations: list[Obj] | None) -> None:
    spec: Obj = {"nodeName": node_name, "containers": [{"name": "c", "image": "busybox"}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    h.ok("-n", ns, "create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Pod",
                                                          "metadata": {"name": name}, "spec": spec}))


def evicted(h: ControllerHarness, ns: str, name: str) -> bool:
    try:
        pod = h.run(h.client.get(resource_path("v1", "pods", ns, name)))
    except KubeliteError:
        return True
    return bool(pod["metadata"].get("deletionTimestamp"))


def unreachable(key: str, seconds: int | None = None) -> Obj:
    tol: Obj = {"key": key, "operator": "Exists", "effect": "NoExecute"}
    if seconds is not None:
        tol["tolerationSeconds"] = seconds
    return tol


def test_silent_node_is_tainted_and_its_pods_evicted(controllers: ControllerHarness, ns: str,
                                                     beats: Heartbeats) -> None:
    h = controllers
    alive, dead = f"{ns}-alive", f"{ns}-dead"
    add_node(h, alive)
    add_node(h, dead)
    beats.want(alive, Ready="True")
    add_pod(h, ns, "intolerant", dead, [])
    add_pod(h, ns, "brief", dead, [unreachable("node.kubernetes.io/unreachable", 1)])
    add_pod(h, ns, "patient", dead, [unreachable("node.kubernetes.io/unreachable")])
    add_pod(h, ns, "elsewhere", alive, [])

    h.wait_for(lambda: ready(node(h, dead))["status"] == "Unknown", "the silent node Unknown")
    cond = ready(node(h, dead))
    assert cond["reason"] == "NodeStatusUnknown" and cond["message"] == "Kubelet stopped posting node status."
    h.wait_for(lambda: taints(node(h, dead)) == {("node.kubernetes.io/unreachable", "NoExecute"),
                                                 ("node.kubernetes.io/unreachable", "NoSchedule")},
               "the unreachable taints")
    h.wait_for(lambda: evicted(h, ns, "intolerant"), "the intolerant pod evicted")
    h.wait_for(lambda: evicted(h, ns, "brief"), "the pod tolerating 1 s evicted")
    assert not evicted(h, ns, "patient"), "a pod tolerating the taint for ever stays"
    gone: Obj = h.run(h.client.get(resource_path("v1", "pods", ns, "intolerant")))
    assert {"type": "DisruptionTarget", "reason": "DeletionByTaintManager"}.items() <= next(
        c for c in gone["status"]["conditions"] if c["type"] == "DisruptionTarget").items()
    assert not evicted(h, ns, "elsewhere")
    live = node(h, alive)
    assert ready(live)["status"] == "True" and not taints(live)
    h.wait_for(lambda: "TaintManagerEviction" in h.ok("-n", ns, "get", "events"), "eviction events")
    h.wait_for(lambda: f"Node {dead} status is now: NodeNotReady" in h.ok("get", "events", "-A"), "node event")


def test_not_ready_and_recovery(controllers: ControllerHarness, ns: str, beats: Heartbeats) -> None:
    h = controllers
    name = f"{ns}-flaky"
    add_node(h, name)
    beats.want(name, Ready="False")  # the agent itself reports trouble
    not_ready = {("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/not-ready", "NoSchedule")}
    h.wait_for(lambda: taints(node(h, name)) == not_ready, "the not-ready taints")
    assert next(t for t in node(h, name)["spec"]["taints"] if t["effect"] == "NoExecute").get("timeAdded")
    beats.want(name, Ready="True")
    h.wait_for(lambda: not taints(node(h, name)), "taints removed once Ready")

    beats.alive.discard(name)  # the agent dies...
    h.wait_for(lambda: ready(node(h, name))["status"] == "Unknown", "Unknown after the grace period")
    h.wait_for(lambda: ("node.kubernetes.io/unreachable", "NoExecute") in taints(node(h, name)), "unreachable")
    beats.want(name, Ready="True")  # ...and comes back, reporting Ready
    h.wait_for(lambda: not taints(node(h, name)), "taints removed after recovery")
    assert ready(node(h, name))["status"] == "True"


def test_user_taints_are_kept(controllers: ControllerHarness, ns: str, beats: Heartbeats) -> None:
    h = controllers
    name = f"{ns}-tainted"
    add_node(h, name)
    h.ok("taint", "node", name, "dedicated=gpu:NoSchedule")
    h.wait_for(lambda: ("node.kubernetes.io/unreachable", "NoExecute") in taints(node(h, name)), "unreachable")
    assert ("dedicated", "NoSchedule") in taints(node(h, name))


class Binder:
    """A scheduler stand-in: binds each unbound pod of ``namespace`` to the first of ``nodes`` without a
    NoSchedule taint, through the real ``pods/binding`` subresource."""

    def __init__(self, h: ControllerHarness, namespace: str, nodes: list[str]) -> None:
        self.h, self.namespace, self.nodes = h, namespace, nodes
        self.task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            pods = await self.h.client.list(resource_path("v1", "pods", self.namespace))
            for pod in pods["items"]:
                if pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
                    continue
                for name in self.nodes:
                    n = await self.h.client.get(resource_path("v1", "nodes", None, name))
                    if not any(t.get("effect") == "NoSchedule" for t in n["spec"].get("taints") or []):
                        with contextlib.suppress(KubeliteError):
                            await self.h.client.create(
                                resource_path("v1", "pods", self.namespace, pod["metadata"]["name"], "binding"),
                                {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod["metadata"]["name"]},
                                 "target": {"apiVersion": "v1", "kind": "Node", "name": name}})
                        break
            await asyncio.sleep(0.2)

    def __enter__(self) -> Binder:
        async def go() -> asyncio.Task[None]:
            return asyncio.create_task(self._loop())
        self.task = self.h.run(go())
        return self

    def __exit__(self, *exc: object) -> None:
        async def halt() -> None:
            assert self.task is not None
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.h.run(halt())


def test_evicted_pods_are_replaced_on_a_healthy_node(controllers: ControllerHarness, ns: str,
                                                    beats: Heartbeats) -> None:
    """With the ReplicaSet controller: the dead node's pods are evicted and replaced, and the replacements land
    on the live node because the dead one carries NoSchedule."""
    h = controllers
    dead, alive = f"{ns}-b", f"{ns}-a"
    tols = [unreachable("node.kubernetes.io/unreachable", 1), unreachable("node.kubernetes.io/not-ready", 1)]
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
          "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"tolerations": tols, "containers": [{"name": "c", "image": "busybox"}]}}}}

    def placement() -> dict[str, int]:
        out: dict[str, int] = {}
        for p in h.pods(ns, "app=web"):
            if not p["metadata"].get("deletionTimestamp"):
                node_name = (p.get("spec") or {}).get("nodeName") or ""
                out[node_name] = out.get(node_name, 0) + 1
        return out

    add_node(h, dead)
    beats.want(dead, Ready="True")
    with Binder(h, ns, [dead, alive]):
        h.ok("-n", ns, "create", "-f", "-", input=json.dumps(rs))
        h.wait_for(lambda: placement() == {dead: 3}, "three pods on the first node")
        add_node(h, alive)
        beats.want(alive, Ready="True")
        beats.alive.discard(dead)  # its agent dies
        h.wait_for(lambda: placement() == {alive: 3}, "the three pods replaced on the live node")
    assert ("node.kubernetes.io/unreachable", "NoSchedule") in taints(node(h, dead))
    assert len(h.pods(ns, "app=web")) == 6  # the evicted ones stay Terminating: no agent confirms on a dead node


def test_taints_by_condition_and_cordon(controllers: ControllerHarness, ns: str, beats: Heartbeats) -> None:
    h = controllers
    name = f"{ns}-pressed"
    add_node(h, name)
    beats.want(name, Ready="True")
    h.ok("cordon", name)
    h.wait_for(lambda: taints(node(h, name)) == {("node.kubernetes.io/unschedulable", "NoSchedule")}, "cordoned")
    h.ok("uncordon", name)
    h.wait_for(lambda: not taints(node(h, name)), "uncordoned")
    beats.want(name, Ready="True", MemoryPressure="True")
    h.wait_for(lambda: taints(node(h, name)) == {("node.kubernetes.io/memory-pressure", "NoSchedule")},
               "the memory-pressure taint")
    beats.want(name, Ready="True")  # pressure gone
    h.wait_for(lambda: not taints(node(h, name)), "the pressure taint removed")
