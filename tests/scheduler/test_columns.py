"""Filter and Score on the cache's columns give exactly what the plugins give node by node.

Two worlds are built alike; in one the profile may use the columns, in the other
it must ask every plugin about every node. Clusters with full, tainted, cordoned,
not-ready and zero-allocatable nodes, pods of many shapes: the picks, the
rejected nodes with their reasons, and the rotation stay the same, pod after pod.
"""

from __future__ import annotations

import random
from typing import Any, cast

import pytest

from kubelite.scheduler.cache import Cache
from kubelite.scheduler.framework import CycleState
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo
from kubelite.scheduler.profile import Profile
from kubelite.scheduler.registry import DEFAULT_PROFILE, build_profile
from tests.scheduler.helpers import node, pod

Obj = dict[str, Any]


def cluster(rng: random.Random, n: int) -> list[Obj]:
    nodes = []
    for i in range(n):
        kind = rng.random()
        taints = [{"key": "dedicated", "value": "db", "effect": rng.choice(["NoSchedule", "PreferNoSchedule"])}] \
            if kind < 0.1 else None
        nodes.append(node(f"n{i:03}", cpu=rng.choice(["0", "1", "2", "500m", "8"]),
                          memory=rng.choice(["0", "512Mi", "1Gi", "4Gi"]), pods=rng.choice([0, 2, 5, 110]),
                          taints=taints, ready="False" if 0.1 <= kind < 0.15 else "True",
                          unschedulable=0.15 <= kind < 0.2))
    return nodes


def a_pod(rng: random.Random, i: int) -> Obj:
    p = pod(f"p{i}", cpu=rng.choice([None, "100m", "250m", "1"]), memory=rng.choice([None, "64Mi", "300Mi"]))
    if rng.random() < 0.2:
        p["spec"]["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    if rng.random() < 0.1:
        p["spec"]["tolerations"] = [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}]
    return p


def world(nodes: list[Obj], by_columns: bool) -> tuple[Cache, Profile]:
    cache = Cache()
    for n in nodes:
        cache.set_node(n)
    profile = build_profile(DEFAULT_PROFILE, cache, None)
    profile.rng = random.Random(7)
    if not by_columns:
        profile._pass_mask = lambda *args: None  # type: ignore[method-assign]
    return cache, profile


@pytest.mark.parametrize("seed", range(6))
def test_columns_and_plugins_agree_pod_after_pod(seed: int) -> None:
    rng = random.Random(seed)
    nodes = cluster(rng, rng.choice([30, 150, 400]))
    worlds = [world(nodes, by_columns=True), world(nodes, by_columns=False)]
    used_columns = 0
    for i in range(250):
        p = a_pod(rng, i)
        results = []
        for cache, profile in worlds:
            pi = PodInfo.of(p)
            state = CycleState(all_nodes=cache.node_infos())
            assert profile.run_pre_filter(state, pi) is None
            statuses: dict[str, Any] = {}
            feasible = profile.find_feasible(state, pi, cast(list[NodeInfo], cache.node_infos()), statuses)
            totals = profile.prioritize(state, pi, feasible).tolist() if feasible else []
            results.append(([n.name for n in feasible], statuses, totals, profile._next_start))
            if "columns/feasible rows" in state.data:
                used_columns += 1
            if feasible:
                choice = profile.select_host(feasible, profile.prioritize(CycleState(), pi, feasible))
                cache.assume(PodInfo.of(dict(p, spec={**p["spec"], "nodeName": choice.name})), choice.name)
        assert results[0] == results[1], f"pod {i}"
        if rng.random() < 0.1:  # pods go away, and nodes come and go, between cycles
            victim = f"default/p{rng.randrange(i + 1)}"
            for cache, _ in worlds:
                cache.remove_pod(victim)
        if rng.random() < 0.05:
            gone, back = rng.choice(nodes), rng.choice(nodes)
            for cache, _ in worlds:
                cache.remove_node(gone["metadata"]["name"])
                cache.set_node(back)
    assert used_columns > 100  # the columns were what the first world used


def test_columns_follow_the_nodes_sums() -> None:
    cache = Cache()
    cache.set_node(node("a", cpu="2", memory="1Gi", pods=3))
    cache.set_node(node("b", cpu="1", memory="1Gi", pods=3, taints=[{"key": "k", "effect": "NoSchedule"}]))
    cols = cache.columns()
    assert cols.free_cpu.tolist() == [2000, 1000]
    assert cols.tainted.tolist() == [False, True]
    cache.assume(PodInfo.of(pod("x", cpu="500m", memory="256Mi", node_name="a")), "a")
    assert cols.free_cpu.tolist() == [1500, 1000]
    assert cols.free_memory[0] == 768 * 1024 * 1024 and cols.free_pods[0] == 2
    cache.forget("default/x")
    assert cols.free_cpu.tolist() == [2000, 1000] and cols.free_pods[0] == 3
    cache.set_node(node("a", cpu="2", memory="1Gi", pods=3, unschedulable=True))
    assert cols.cordoned.tolist() == [True, False]
    cache.remove_node("a")
    assert [n.name for n in cache.node_infos()] == ["b"]
    assert cache.columns().free_cpu.tolist() == [1000]
