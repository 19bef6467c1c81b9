"""The scheduler against a real API server: binding, spreading, reasons, retries, preemption, kubectl's view."""

from __future__ import annotations

import json
from collections import Counter

from tests.scheduler.conftest import Nodes, SchedulerHarness
from tests.scheduler.helpers import pod


def test_pods_are_bound_through_binding_and_spread(sched: SchedulerHarness, ns: str, nodes: Nodes) -> None:
    for n in ("w1", "w2", "w3"):
        nodes.add(n)
    for i in range(6):
        sched.create_pod(pod(f"p{i}", namespace=ns))
    placed = sched.wait_for(lambda: [sched.bound(ns, f"p{i}") for i in range(6)]
                            if all(sched.bound(ns, f"p{i}") for i in range(6)) else None, "all pods bound")
    assert Counter(placed) == {"w1": 2, "w2": 2, "w3": 2}
    cond = sched.condition(ns, "p0")
    assert cond is not None and cond["status"] == "True"
    out = sched.describe_until(ns, "p0", "Scheduled")
    assert f"Successfully assigned {ns}/p0 to {placed[0]}" in out
    assert "default-scheduler" in out


def test_a_pod_that_fits_nowhere_says_why_and_is_scheduled_when_a_node_arrives(
        sched: SchedulerHarness, ns: str, nodes: Nodes) -> None:
    gpu = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    nodes.add("small", memory="1Gi")
    nodes.add("gpu1", taints=gpu)
    nodes.add("gpu2", taints=gpu)
    sched.create_pod(pod("big", namespace=ns, memory="2Gi"))
    want = ("0/3 nodes are available: 1 Insufficient memory, 2 node(s) had untolerated taint {dedicated: gpu}. "
            "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
            "2 Preemption is not helpful for scheduling.")
    cond = sched.wait_for(lambda: sched.condition(ns, "big"), "the PodScheduled condition")
    assert cond["status"] == "False" and cond["reason"] == "Unschedulable"
    assert cond["message"] == want
    out = sched.describe_until(ns, "big", "FailedScheduling")
    assert "Warning  FailedScheduling" in out and "default-scheduler" in out
    assert "1 Insufficient memory" in out
    events = json.loads(sched.ok("get", "events", "-n", ns, "-o", "json"))["items"]
    failed = [e for e in events if e["reason"] == "FailedScheduling"]
    assert failed and failed[0]["message"] == want and failed[0]["source"]["component"] == "default-scheduler"
    assert failed[0]["type"] == "Warning" and failed[0]["involvedObject"]["name"] == "big"
    assert sched.bound(ns, "big") == ""
    nodes.add("large", memory="16Gi")
    assert sched.wait_for(lambda: sched.bound(ns, "big"), "binding after the node was added") == "large"


def test_cordon_and_uncordon(sched: SchedulerHarness, ns: str, nodes: Nodes) -> None:
    nodes.add("c1")
    sched.ok("cordon", "c1")
    sched.create_pod(pod("p", namespace=ns))
    cond = sched.wait_for(lambda: sched.condition(ns, "p"), "the PodScheduled condition")
    assert cond["message"].startswith("0/1 nodes are available: 1 node(s) were unschedulable.")
    sched.ok("uncordon", "c1")
    assert sched.wait_for(lambda: sched.bound(ns, "p"), "binding after uncordon") == "c1"


def test_not_ready_node_only_takes_pods_that_tolerate_it(sched: SchedulerHarness, ns: str, nodes: Nodes) -> None:
    nodes.add("down", ready="False")
    sched.create_pod(pod("plain", namespace=ns))
    sched.create_pod(pod("tolerant", namespace=ns, tolerations=[
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}]))
    assert sched.wait_for(lambda: sched.bound(ns, "tolerant"), "the tolerant pod bound") == "down"
    cond = sched.wait_for(lambda: sched.condition(ns, "plain"), "the PodScheduled condition")
    assert "1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }" in cond["message"]


def test_topology_spread_over_zones(sched: SchedulerHarness, ns: str, nodes: Nodes) -> None:
    for i in range(6):
        nodes.add(f"z-{i}", labels={"topology.kubernetes.io/zone": f"zone-{i % 3}"})
    tsc = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "spread"}}}]
    for i in range(9):
        sched.create_pod(pod(f"s{i}", namespace=ns, labels={"app": "spread"}, topologySpreadConstraints=tsc))
    placed = sched.wait_for(lambda: [sched.bound(ns, f"s{i}") for i in range(9)]
                            if all(sched.bound(ns, f"s{i}") for i in range(9)) else None, "all pods bound")
    assert Counter(int(n.split("-")[1]) % 3 for n in placed) == {0: 3, 1: 3, 2: 3}


def test_preemption_deletes_a_lower_priority_pod(sched: SchedulerHarness, ns: str, nodes: Nodes) -> None:
    nodes.add("only", cpu="1")
    sched.create_pod(pod("low", namespace=ns, cpu="800m", priority=1, terminationGracePeriodSeconds=0))
    assert sched.wait_for(lambda: sched.bound(ns, "low"), "the low-priority pod bound") == "only"
    low_uid = sched.get_pod(ns, "low")["metadata"]["uid"]
    sched.create_pod(pod("high", namespace=ns, cpu="500m", priority=1000))
    assert sched.wait_for(lambda: sched.bound(ns, "high"), "the preemptor bound") == "only"
    assert all(p["metadata"]["uid"] != low_uid for p in sched.pods(ns))  # the victim is gone
    events = json.loads(sched.ok("get", "events", "-n", ns, "-o", "json"))["items"]
    preempted = [e for e in events if e["reason"] == "Preempted"]
    assert preempted and preempted[0]["involvedObject"]["name"] == "low"
    assert "on node only" in preempted[0]["message"]


def test_equal_priority_never_preempts(sched: SchedulerHarness, ns: str, nodes: Nodes) -> None:
    nodes.add("one", cpu="1")
    sched.create_pod(pod("first", namespace=ns, cpu="800m", priority=5))
    sched.wait_for(lambda: sched.bound(ns, "first"), "the first pod bound")
    sched.create_pod(pod("second", namespace=ns, cpu="800m", priority=5))
    cond = sched.wait_for(lambda: sched.condition(ns, "second"), "the PodScheduled condition")
    assert cond["message"] == ("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
                               "1 No preemption victims found for incoming pod.")
    assert sched.bound(ns, "first") == "one"


def test_a_flood_of_unschedulable_pods_does_not_starve_the_rest(
        sched: SchedulerHarness, ns: str, nodes: Nodes) -> None:
    nodes.add("f1")
    for i in range(100):
        sched.create_pod(pod(f"huge{i}", namespace=ns, cpu="64"))
    for i in range(10):
        sched.create_pod(pod(f"ok{i}", namespace=ns))
    sched.wait_for(lambda: all(sched.bound(ns, f"ok{i}") for i in range(10)), "the schedulable pods bound")
    assert not any(p["spec"].get("nodeName") for p in sched.pods(ns) if p["metadata"]["name"].startswith("huge"))


def test_pods_for_another_scheduler_are_left_alone(sched: SchedulerHarness, ns: str, nodes: Nodes) -> None:
    nodes.add("x1")
    sched.create_pod(pod("mine", namespace=ns))
    sched.create_pod(pod("theirs", namespace=ns, schedulerName="someone-else"))
    sched.wait_for(lambda: sched.bound(ns, "mine"), "the default-scheduler pod bound")
    p = sched.get_pod(ns, "theirs")
    assert not p["spec"].get("nodeName") and not (p.get("status") or {}).get("conditions")



def test_a_second_profile_and_the_leader_gate(sched: SchedulerHarness, ns: str, nodes: Nodes) -> None:
    """A scheduler for another name acts only after its gate opens (how a leader elector holds it back)."""
    import asyncio

    from kubelite.scheduler import Scheduler
    from kubelite.scheduler.registry import ProfileConfig

    nodes.add("g1")

    async def start() -> tuple[Scheduler, asyncio.Event]:
        gate = asyncio.Event()
        s = Scheduler(sched.client, [ProfileConfig(scheduler_name="gated")], gate=gate.wait)
        await s.start()
        return s, gate

    gated, gate = sched.run(start())
    try:
        sched.create_pod(pod("g", namespace=ns, schedulerName="gated"))
        sched.wait_for(lambda: f"{ns}/g" in gated.queue.active, "the pod queued by the gated scheduler")
        assert sched.bound(ns, "g") == "" and gated.assumed == 0  # queued, not scheduled: the gate is shut
        sched.loop.call_soon_threadsafe(gate.set)
        assert sched.wait_for(lambda: sched.bound(ns, "g"), "binding once the gate opened") == "g1"
    finally:
        sched.run(gated.stop())


def test_pods_bound_by_name_count_against_their_node(sched: SchedulerHarness, ns: str, nodes: Nodes) -> None:
    nodes.add("named", cpu="1")
    sched.create_pod(pod("pinned", namespace=ns, cpu="800m", node_name="named"))  # no scheduler involved
    sched.create_pod(pod("later", namespace=ns, cpu="500m"))
    cond = sched.wait_for(lambda: sched.condition(ns, "later"), "the PodScheduled condition")
    assert cond["message"].startswith("0/1 nodes are available: 1 Insufficient cpu.")
    sched.run(sched.client.delete(f"/api/v1/namespaces/{ns}/pods/pinned", gracePeriodSeconds=0))
    assert sched.wait_for(lambda: sched.bound(ns, "later"), "binding once the room was freed") == "named"


def test_node_affinity_through_kubectl(sched: SchedulerHarness, ns: str, nodes: Nodes) -> None:
    nodes.add("ssd-node", labels={"disk": "ssd"})
    nodes.add("hdd-node", labels={"disk": "hdd"})
    manifest = f"""
apiVersion: v1
kind: Pod
metadata: {{name: fast, namespace: {ns}}}
spec:
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [{{key: disk, operator: In, values: [ssd]}}]
  containers: [{{name: c, image: busybox}}]
"""
    sched.ok("apply", "-f", "-", input=manifest)
    assert sched.wait_for(lambda: sched.bound(ns, "fast"), "the pod bound") == "ssd-node"
    wide = sched.ok("get", "pod", "fast", "-n", ns, "-o", "wide")
    assert "ssd-node" in wide


def test_scheduling_gates_hold_a_pod_until_removed(sched: SchedulerHarness, ns: str, nodes: Nodes) -> None:
    nodes.add("gate-node")
    sched.create_pod(pod("held", namespace=ns, schedulingGates=[{"name": "example.com/quota"}]))
    cond = sched.wait_for(lambda: sched.condition(ns, "held"), "the PodScheduled condition")
    assert cond["status"] == "False" and cond["reason"] == "SchedulingGated"
    assert cond["message"] == "Scheduling is blocked due to non-empty scheduling gates"
    assert sched.bound(ns, "held") == ""
    assert f"{ns}/held" not in sched.scheduler.queue.pods
    path = f"/api/v1/namespaces/{ns}/pods/held"
    sched.run(sched.client.patch(path, [{"op": "remove", "path": "/spec/schedulingGates"}], "json"))
    assert sched.wait_for(lambda: sched.bound(ns, "held"), "binding once the gate is removed") == "gate-node"


def test_a_late_unschedulable_write_never_undoes_a_binding(sched: SchedulerHarness, ns: str, nodes: Nodes) -> None:
    """The condition is written in the background: if the pod was bound meanwhile, the stale write must lose."""
    created = sched.create_pod(pod("racer", namespace=ns))  # no node yet: this is the version a cycle saw
    nodes.add("late")
    sched.wait_for(lambda: sched.bound(ns, "racer"), "the pod bound")
    sched.run(sched.scheduler._set_condition(created, "Unschedulable", "0/0 nodes are available"))
    cond = sched.condition(ns, "racer")
    assert cond is not None and cond["status"] == "True"
