"""The scheduling cycle on dicts: the cache, the default profile and each plugin's effect, without a server."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from kubelite.scheduler.cache import Cache
from kubelite.scheduler.nodeinfo import PodInfo
from kubelite.scheduler.profile import Profile, num_feasible_to_find
from kubelite.scheduler.registry import DEFAULT_PROFILE, ProfileConfig, build_profile
from kubelite.scheduler.selectors import label_selector, node_selector_term, tolerates
from tests.scheduler.helpers import node, pod

Obj = dict[str, Any]


class World:
    """A cache with nodes and pods, and a profile that schedules (and assumes) pods on it."""

    def __init__(self, *nodes: Obj, cfg: ProfileConfig = DEFAULT_PROFILE) -> None:
        self.cache = Cache()
        for n in nodes:
            self.cache.set_node(n)
        self.profile: Profile = build_profile(cfg, self.cache, None)
        self.profile.rng = random.Random(1)

    def bind(self, p: Obj, node_name: str) -> None:
        self.cache.add_pod(PodInfo.of(dict(p, spec={**p["spec"], "nodeName": node_name})), node_name)

    def schedule(self, p: Obj) -> str:
        """The chosen node (and the pod is then accounted there), or the failure message."""
        res = self.profile.schedule(PodInfo.of(p))
        if res.node:
            self.bind(p, res.node)
            return res.node
        return res.message


def test_fit_counts_reasons_per_node_in_kubernetes_wording() -> None:
    gpu = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    w = World(node("a", memory="1Gi"), node("b", taints=gpu), node("c", taints=gpu))
    msg = w.schedule(pod("big", memory="2Gi"))
    assert msg == ("0/3 nodes are available: 1 Insufficient memory, 2 node(s) had untolerated taint "
                   "{dedicated: gpu}. preemption: 0/3 nodes are available: 1 No preemption victims found for "
                   "incoming pod, 2 Preemption is not helpful for scheduling.")


def test_fit_cpu_pods_and_accumulated_requests() -> None:
    w = World(node("a", cpu="1", pods=2))
    assert w.schedule(pod("p1", cpu="600m")) == "a"
    assert "1 Insufficient cpu" in w.schedule(pod("p2", cpu="600m"))
    assert w.schedule(pod("p3", cpu="400m")) == "a"
    assert "1 Too many pods" in w.schedule(pod("p4", cpu=None, memory=None))


def test_init_containers_and_sidecars_count_as_kubernetes_counts_them() -> None:
    w = World(node("a", cpu="2"))
    init = pod("init", cpu="100m")
    init["spec"]["initContainers"] = [{"name": "i", "image": "x", "resources": {"requests": {"cpu": "3"}}}]
    assert "Insufficient cpu" in w.schedule(init)  # the largest init container decides: 3 > 2
    side = pod("side", cpu="1500m")
    side["spec"]["initContainers"] = [{"name": "s", "image": "x", "restartPolicy": "Always",
                                       "resources": {"requests": {"cpu": "600m"}}}]
    assert "Insufficient cpu" in w.schedule(side)  # a sidecar adds to the app containers: 2.1 > 2
    side["spec"]["initContainers"][0]["resources"]["requests"]["cpu"] = "500m"
    assert w.schedule(side) == "a"
    assert w.cache.nodes["a"].req_cpu == 2000


def test_node_selector_and_required_affinity() -> None:
    w = World(node("a", labels={"disk": "ssd", "gen": "3"}), node("b", labels={"disk": "hdd", "gen": "5"}))
    assert w.schedule(pod("p", nodeSelector={"disk": "ssd"})) == "a"
    gt = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]}]}}}
    assert w.schedule(pod("q", affinity=gt)) == "b"
    none = pod("r", nodeSelector={"disk": "nvme"})
    assert w.schedule(none) == ("0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. "
                                "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.")
    by_name = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}}
    assert w.schedule(pod("s", affinity=by_name)) == "b"


def test_preferred_node_affinity_wins_the_score() -> None:
    pref = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 80, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z2"]}]}}]}}
    for i in range(5):
        w = World(*(node(f"n{j}", labels={"zone": f"z{j}"}) for j in range(4)))
        w.profile.rng = random.Random(i)
        assert w.schedule(pod("p", affinity=pref)) == "n2"


def test_taints_tolerations_and_prefer_no_schedule() -> None:
    t = [{"key": "k", "value": "v", "effect": "NoExecute"}]
    w = World(node("a", taints=t))
    assert "1 node(s) had untolerated taint {k: v}" in w.schedule(pod("p"))
    assert w.schedule(pod("q", tolerations=[{"key": "k", "operator": "Exists"}])) == "a"
    assert "untolerated" in w.schedule(pod("r", tolerations=[{"key": "k", "value": "other"}]))
    soft = [{"key": "soft", "effect": "PreferNoSchedule"}]
    for i in range(5):
        w = World(node("tainted", taints=soft), node("clean"))
        w.profile.rng = random.Random(i)
        assert w.schedule(pod("p")) == "clean"


def test_not_ready_and_cordoned_nodes() -> None:
    w = World(node("down", ready="False"), node("cordoned", unschedulable=True))
    msg = w.schedule(pod("p"))
    assert msg.startswith("0/2 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
                          "1 node(s) were unschedulable.")
    ds = pod("ds", tolerations=[{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}])
    assert w.schedule(ds) == "down"
    tol = pod("t", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                 "effect": "NoSchedule"}])
    assert w.schedule(tol) == "cordoned"


def test_host_ports() -> None:
    def with_port(name: str, port: int, ip: str = "") -> Obj:
        p = pod(name)
        p["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": port, **({"hostIP": ip} if ip else {})}]
        return p

    w = World(node("a"))
    assert w.schedule(with_port("p1", 8080)) == "a"
    assert "1 node(s) didn't have free ports for the requested pod ports" in w.schedule(with_port("p2", 8080))
    assert w.schedule(with_port("p3", 8081, "10.0.0.1")) == "a"
    assert "free ports" in w.schedule(with_port("p4", 8081))  # 0.0.0.0 overlaps 10.0.0.1


def _anti(app: str, key: str = "kubernetes.io/hostname") -> Obj:
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}]}}


def test_pod_anti_affinity_spreads_and_then_refuses() -> None:
    w = World(node("a"), node("b"))
    placed = {w.schedule(pod(f"p{i}", labels={"app": "web"}, affinity=_anti("web"))) for i in range(2)}
    assert placed == {"a", "b"}
    msg = w.schedule(pod("p3", labels={"app": "web"}, affinity=_anti("web")))
    assert msg.startswith("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.")
    # the existing pods' anti-affinity also keeps a matching pod without terms away
    assert "2 node(s) didn't satisfy existing pods anti-affinity rules" in w.schedule(pod("x", labels={"app": "web"}))
    assert w.schedule(pod("other", labels={"app": "db"})) in {"a", "b"}


def test_pod_affinity_follows_the_first_pod() -> None:
    w = World(*(node(f"n{i}", labels={"zone": f"z{i % 2}"}) for i in range(4)))
    aff = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "zone"}]}}
    first = w.schedule(pod("c0", labels={"app": "cache"}, affinity=aff))  # matches itself: may start anywhere
    zone = w.cache.nodes[first].labels["zone"]
    for i in range(1, 6):
        assert w.cache.nodes[w.schedule(pod(f"c{i}", labels={"app": "cache"}, affinity=aff))].labels["zone"] == zone
    lonely = pod("l", labels={"app": "x"}, affinity={"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "nothing"}}, "topologyKey": "zone"}]}})
    assert "4 node(s) didn't match pod affinity rules" in w.schedule(lonely)


def test_topology_spread_do_not_schedule() -> None:
    w = World(*(node(f"n{i}", labels={"zone": f"z{i % 3}"}) for i in range(6)), node("nozone"))
    tsc = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "s"}}}]
    # make the resource scores prefer z0 strongly: spreading must still win
    w.bind(pod("filler", cpu="3", namespace="other"), "n0")
    zones = Counter(w.cache.nodes[w.schedule(pod(f"s{i}", labels={"app": "s"}, topologySpreadConstraints=tsc))]
                    .labels["zone"] for i in range(9))
    assert zones == {"z0": 3, "z1": 3, "z2": 3}
    only_z0 = pod("pinned", labels={"app": "s"}, topologySpreadConstraints=tsc, nodeSelector={"zone": "z0"})
    assert w.schedule(only_z0) in {"n0", "n3"}  # domains outside the node selector do not count
    w2 = World(node("n0", labels={"zone": "z0"}), node("nozone"))
    w2.bind(pod("e0", labels={"app": "s"}), "n0")
    msg = w2.schedule(pod("s", labels={"app": "s"}, topologySpreadConstraints=tsc))
    assert msg == "n0" or "(missing required label)" in msg


def test_topology_spread_skew_blocks() -> None:
    w = World(node("a", labels={"zone": "z1"}), node("b", labels={"zone": "z2"}, cpu="1"))
    tsc = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "s"}}}]
    w.bind(pod("e1", labels={"app": "s"}, cpu="1"), "b")  # b is full
    assert w.schedule(pod("s1", labels={"app": "s"}, topologySpreadConstraints=tsc)) == "a"
    assert w.schedule(pod("s2", labels={"app": "s"}, topologySpreadConstraints=tsc)) == "a"  # skew 1
    msg = w.schedule(pod("s3", labels={"app": "s"}, topologySpreadConstraints=tsc))  # would be skew 2
    assert "1 Insufficient cpu, 1 node(s) didn't match pod topology spread constraints." in msg


def test_topology_spread_min_domains() -> None:
    w = World(node("a", labels={"zone": "z1"}), node("b", labels={"zone": "z2"}))
    tsc = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "minDomains": 3,
            "labelSelector": {"matchLabels": {"app": "s"}}}]
    # with fewer domains than minDomains the global minimum is 0: at most maxSkew pods per domain
    placed = [w.schedule(pod(f"s{i}", labels={"app": "s"}, topologySpreadConstraints=tsc)) for i in range(3)]
    assert sorted(placed[:2]) == ["a", "b"]
    assert "2 node(s) didn't match pod topology spread constraints." in placed[2]


def test_least_allocated_prefers_the_emptier_node_and_spreads() -> None:
    w = World(node("a"), node("b"), node("c"))
    w.bind(pod("busy", cpu="3", memory="6Gi"), "a")
    placed = Counter(w.schedule(pod(f"p{i}", cpu="500m", memory="1Gi")) for i in range(4))
    assert placed["a"] == 0 and placed["b"] == 2 and placed["c"] == 2


def test_image_locality_prefers_the_node_with_the_image() -> None:
    img = [{"names": ["docker.io/library/busybox:latest"], "sizeBytes": 500 * 1024 * 1024}]
    w = World(node("a"), node("b", images=img), node("c"))
    assert w.schedule(pod("p")) == "b"


def test_preemption_picks_the_cheapest_victims() -> None:
    w = World(node("a", cpu="1"), node("b", cpu="1"))
    w.bind(pod("low-a", cpu="800m", priority=10), "a")
    w.bind(pod("mid-b", cpu="800m", priority=50), "b")
    res = w.profile.schedule(PodInfo.of(pod("high", cpu="500m", priority=100)))
    assert not res.node and res.post_filter is not None
    assert res.post_filter.nominated_node == "a"
    assert [v.key for v in res.post_filter.victims] == ["default/low-a"]
    assert res.message.startswith("0/2 nodes are available: 2 Insufficient cpu.")
    never = pod("never", cpu="500m", priority=100, preemptionPolicy="Never")
    assert w.schedule(never).endswith("preemption: not eligible due to preemptionPolicy=Never.")
    same = w.profile.schedule(PodInfo.of(pod("equal", cpu="500m", priority=10)))
    assert same.post_filter is None
    assert same.message.endswith("preemption: 0/2 nodes are available: 2 No preemption victims found for "
                                 "incoming pod.")


def test_nominated_pods_hold_their_room_against_lower_priority() -> None:
    w = World(node("a", cpu="1"))
    w.cache.nominate(PodInfo.of(pod("high", cpu="800m", priority=100)), "a")
    assert "Insufficient cpu" in w.schedule(pod("low", cpu="500m", priority=1))
    assert w.schedule(pod("higher", cpu="100m", priority=200)) == "a"


def test_no_nodes() -> None:
    assert World().schedule(pod("p")) == "no nodes available to schedule pods"


def test_sampling_sizes_follow_percentage_of_nodes_to_score() -> None:
    assert num_feasible_to_find(50) == 50
    assert num_feasible_to_find(1000) == 420
    assert num_feasible_to_find(5000) == 500
    assert num_feasible_to_find(50000) == 2500
    assert num_feasible_to_find(1000, 100) == 1000


def test_sampling_rotates_over_all_nodes() -> None:
    w = World(*(node(f"n{i:03}", cpu="64", memory="256Gi") for i in range(300)))
    seen = {w.schedule(pod(f"p{i}")) for i in range(300)}
    assert len(seen) > 144  # more than one sample's worth: every node gets its turn


def test_unknown_plugin_is_a_clear_error() -> None:
    from kubelite.errors import Invalid
    with pytest.raises(Invalid, match="unknown plugin 'Nope'"):
        build_profile(ProfileConfig(filter=["Nope"]), Cache(), None)


def test_selectors_and_tolerations() -> None:
    sel = label_selector({"matchLabels": {"a": "1"}, "matchExpressions": [
        {"key": "b", "operator": "NotIn", "values": ["x"]}, {"key": "c", "operator": "Exists"}]})
    assert sel({"a": "1", "c": ""}) and not sel({"a": "1", "b": "x", "c": ""}) and not sel({"a": "1"})
    assert label_selector({})({"any": "thing"}) and not label_selector(None)({})
    assert not label_selector({"matchExpressions": [{"key": "a", "operator": "Bogus"}]})({"a": "1"})
    term = node_selector_term({"matchExpressions": [{"key": "n", "operator": "Lt", "values": ["10"]}]})
    assert term({"n": "9"}, "x") and not term({"n": "10"}, "x") and not term({"n": "nine"}, "x")
    assert not node_selector_term({})({}, "x")
    taint = {"key": "k", "value": "v", "effect": "NoSchedule"}
    assert tolerates({"operator": "Exists"}, taint)
    assert tolerates({"key": "k", "value": "v"}, taint)
    assert not tolerates({"key": "k", "value": "v", "effect": "NoExecute"}, taint)
    assert not tolerates({"key": "k", "operator": "Equal", "value": "w"}, taint)


def test_assume_confirm_and_forget() -> None:
    w = World(node("a", cpu="1"))
    p = pod("p", cpu="600m")
    bound = dict(p, spec={**p["spec"], "nodeName": "a"})
    w.cache.assume(PodInfo.of(bound), "a")
    assert w.cache.nodes["a"].req_cpu == 600 and w.cache.is_assumed("default/p")
    w.cache.forget("default/p")  # the binding failed: the room is free again
    assert w.cache.nodes["a"].req_cpu == 0
    w.cache.assume(PodInfo.of(bound), "a")
    assert w.cache.confirm(dict(bound, metadata={**bound["metadata"], "resourceVersion": "7"}), "a")
    assert not w.cache.is_assumed("default/p") and w.cache.nodes["a"].req_cpu == 600
    w.cache.forget("default/p")  # confirmed pods are not forgotten
    assert w.cache.nodes["a"].req_cpu == 600
    assert not w.cache.confirm(bound, "a")  # nothing assumed any more
    w.cache.remove_pod("default/p")
    assert w.cache.nodes["a"].req_cpu == 0 and not w.cache.nodes["a"].pods
