"""The plugin registry (name -> factory) and profile configuration, as kube-scheduler's.

A factory gets a :class:`Handle` (the API client, the cache, and the profile's
own filter runner for plugins that ask "would it fit if...", like
preemption) and returns the plugin. A :class:`ProfileConfig` names the plugins
per extension point and the Score weights; ``DEFAULT_PROFILE`` is Kubernetes'
default set and weights. ``build_profile`` instantiates each named plugin once
and puts the instance at every point it is listed for, so a plugin's PreFilter
and Filter share state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubelite.api.client import APIClient
from kubelite.errors import Invalid
from kubelite.scheduler.cache import Cache
from kubelite.scheduler.framework import CycleState, Status
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo
from kubelite.scheduler.plugins.defaultbinder import DefaultBinder
from kubelite.scheduler.plugins.defaultpreemption import DefaultPreemption
from kubelite.scheduler.plugins.fit import Fit
from kubelite.scheduler.plugins.imagelocality import ImageLocality
from kubelite.scheduler.plugins.interpodaffinity import InterPodAffinity
from kubelite.scheduler.plugins.nodeaffinity import NodeAffinity
from kubelite.scheduler.plugins.nodename import NodeName
from kubelite.scheduler.plugins.nodeports import NodePorts
from kubelite.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from kubelite.scheduler.plugins.prioritysort import PrioritySort
from kubelite.scheduler.plugins.resources_score import BalancedAllocation, LeastAllocated
from kubelite.scheduler.plugins.tainttoleration import TaintToleration
from kubelite.scheduler.plugins.topologyspread import PodTopologySpread
from kubelite.scheduler.profile import Profile


@dataclass
class Handle:
    client: APIClient | None
    cache: Cache
    run_filters: Callable[[CycleState, PodInfo, NodeInfo], Status | None]


Factory = Callable[[Handle], Any]

REGISTRY: dict[str, Factory] = {
    "PrioritySort": lambda h: PrioritySort(),
    "NodeName": lambda h: NodeName(),
    "NodeUnschedulable": lambda h: NodeUnschedulable(h.cache.count_cordoned),
    "TaintToleration": lambda h: TaintToleration(h.cache.count_tainted),
    "NodeAffinity": lambda h: NodeAffinity(),
    "NodePorts": lambda h: NodePorts(),
    "NodeResourcesFit": lambda h: Fit(h.cache.nominated),
    "NodeResourcesLeastAllocated": lambda h: LeastAllocated(),
    "NodeResourcesBalancedAllocation": lambda h: BalancedAllocation(),
    "PodTopologySpread": lambda h: PodTopologySpread(),
    "InterPodAffinity": lambda h: InterPodAffinity(h.cache.count_anti_affinity),
    "ImageLocality": lambda h: ImageLocality(h.cache.image_count),
    "DefaultPreemption": lambda h: DefaultPreemption(h.run_filters, h.cache.get),
    "DefaultBinder": lambda h: DefaultBinder(h.client) if h.client is not None else None,
}

EXTENSION_POINTS = ("pre_filter", "filter", "post_filter", "pre_score", "score", "reserve", "bind")


@dataclass
class ProfileConfig:
    scheduler_name: str = "default-scheduler"
    queue_sort: str = "PrioritySort"
    # cheap, common rejections first: Filter stops at the first plugin that rejects a node
    filter: list[str] = field(default_factory=lambda: [
        "NodeName", "NodeUnschedulable", "TaintToleration", "NodeAffinity", "NodePorts", "NodeResourcesFit",
        "PodTopologySpread", "InterPodAffinity"])
    pre_filter: list[str] = field(default_factory=lambda: [
        "NodeName", "NodeAffinity", "NodePorts", "PodTopologySpread", "InterPodAffinity"])
    post_filter: list[str] = field(default_factory=lambda: ["DefaultPreemption"])
    pre_score: list[str] = field(default_factory=lambda: [
        "NodeAffinity", "PodTopologySpread", "InterPodAffinity", "ImageLocality"])
    score: dict[str, int] = field(default_factory=lambda: {
        "TaintToleration": 3, "NodeAffinity": 2, "PodTopologySpread": 2, "InterPodAffinity": 2,
        "NodeResourcesLeastAllocated": 1, "NodeResourcesBalancedAllocation": 1, "ImageLocality": 1})
    reserve: list[str] = field(default_factory=list)
    bind: list[str] = field(default_factory=lambda: ["DefaultBinder"])
    percentage_of_nodes_to_score: int = 0


DEFAULT_PROFILE = ProfileConfig()


def build_profile(cfg: ProfileConfig, cache: Cache, client: APIClient | None,
                  registry: dict[str, Factory] | None = None) -> Profile:
    reg = registry if registry is not None else REGISTRY
    instances: dict[str, Any] = {}
    profile: Profile | None = None

    def run_filters(state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        assert profile is not None
        return profile.run_filters(state, pod, node)

    handle = Handle(client, cache, run_filters)

    def get(name: str, method: str) -> Any:
        if name not in instances:
            if name not in reg:
                raise Invalid(f"profile {cfg.scheduler_name}: unknown plugin {name!r}")
            instances[name] = reg[name](handle)
        plugin = instances[name]
        if plugin is not None and not callable(getattr(plugin, method, None)):
            raise Invalid(f"profile {cfg.scheduler_name}: plugin {name} has no {method} extension point")
        return plugin

    profile = Profile(
        cfg.scheduler_name, cache, get(cfg.queue_sort, "sort_key"),
        pre_filter=[get(n, "pre_filter") for n in cfg.pre_filter],
        filter=[get(n, "filter") for n in cfg.filter],
        post_filter=[get(n, "post_filter") for n in cfg.post_filter],
        pre_score=[get(n, "pre_score") for n in cfg.pre_score],
        score=[(get(n, "score"), w) for n, w in cfg.score.items()],
        reserve=[get(n, "reserve") for n in cfg.reserve],
        bind=[p for p in (get(n, "bind") for n in cfg.bind) if p is not None],
        percentage_of_nodes_to_score=cfg.percentage_of_nodes_to_score)
    return profile
