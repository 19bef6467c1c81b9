"""The scheduling framework: one Protocol per extension point, a Status result, and the runner of a profile.

Modelled on kube-scheduler's ``framework/interface.go``. A plugin is an object
with a ``name`` and any of the extension-point methods below; the profile lists
which plugins run at which point (and the weight of each Score plugin), and the
:class:`Framework` calls them in order.

Design choices:

- Results are :class:`Status` values, never exceptions. On the hot paths
  (Filter, PreFilter) ``None`` means Success, so a thousand passing nodes
  allocate nothing.
- PreFilter and PreScore may answer ``SKIP``: that plugin's Filter (or Score)
  is then not run for this pod at all. Most pods have no affinity, ports or
  spread constraints, and skipping is what keeps a cycle over many nodes cheap.
- Filter stops at the first plugin that rejects a node (as Kubernetes does), so
  each node contributes the reasons of one plugin to the "0/N nodes are
  available" message. A Filter plugin may also offer ``filter_all`` over a list
  of nodes; running the plugins one after the other over a chunk of nodes gives
  each node exactly the verdict of running them node by node, with far fewer
  calls (see ``Profile.find_feasible``). With ``pass_mask`` it judges all nodes
  at once on the cache's columns: True where the node surely passes; the
  others are then asked node by node.
- Score plugins return integers in [0, 100] (``MAX_NODE_SCORE``), or raw values
  that their ``normalize`` maps into that range; the framework multiplies by the
  plugin's weight and sums.
- Everything a plugin computes for one pod lives in the :class:`CycleState`,
  keyed by plugin name, and is dropped after the cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol, runtime_checkable

from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo

MAX_NODE_SCORE = 100


class Code(IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2  # preempting pods might help
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3  # nothing on this node could make it fit
    WAIT = 4
    SKIP = 5


@dataclass(slots=True, frozen=True)
class Status:
    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def ok(self) -> bool:
        return self.code == Code.SUCCESS

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)


SKIP = Status(Code.SKIP)


def unschedulable(plugin: str, *reasons: str, resolvable: bool = True) -> Status:
    return Status(Code.UNSCHEDULABLE if resolvable else Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons, plugin)


def error(plugin: str, message: str) -> Status:
    return Status(Code.ERROR, (message,), plugin)


@dataclass(slots=True)
class CycleState:
    """Per-cycle scratch space: plugin data by name, and the plugins PreFilter/PreScore told us to skip."""

    data: dict[str, Any] = field(default_factory=dict)
    skip_filter: set[str] = field(default_factory=set)
    skip_score: set[str] = field(default_factory=set)
    all_nodes: Sequence[NodeInfo] = ()


class ClusterView(Protocol):
    """What plugins may read besides the node they are asked about (the scheduler cache's snapshot)."""

    def node_infos(self) -> Sequence[NodeInfo]: ...

    def get(self, name: str) -> NodeInfo | None: ...


# --- extension points ---------------------------------------------------------------------------------------

@runtime_checkable
class Plugin(Protocol):
    name: str


@runtime_checkable
class QueueSortPlugin(Plugin, Protocol):
    def sort_key(self, pi: PodInfo, timestamp: float) -> Any: ...


@runtime_checkable
class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None: ...


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None: ...


@runtime_checkable
class FilterAllPlugin(FilterPlugin, Protocol):
    """A Filter that can also judge a list of nodes in one call (same verdicts, fewer Python calls): it
    returns the nodes that pass, in order, and records a Status in ``statuses`` for each that does not."""

    def filter_all(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                   statuses: dict[str, Status]) -> list[NodeInfo]: ...


@dataclass(slots=True)
class PostFilterResult:
    nominated_node: str = ""
    victims: list[PodInfo] = field(default_factory=list)


@runtime_checkable
class PostFilterPlugin(Plugin, Protocol):
    def post_filter(self, state: CycleState, pod: PodInfo,
                    statuses: dict[str, Status]) -> tuple[PostFilterResult | None, Status]: ...


@runtime_checkable
class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None: ...


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int: ...


@runtime_checkable
class NormalizeScorePlugin(ScorePlugin, Protocol):
    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None: ...


@runtime_checkable
class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: PodInfo, node: str) -> Status | None: ...

    def unreserve(self, state: CycleState, pod: PodInfo, node: str) -> None: ...


@runtime_checkable
class BindPlugin(Plugin, Protocol):
    async def bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None: ...


def default_normalize(scores: list[int], reverse: bool = False) -> None:
    """Scale raw scores so the highest becomes MAX_NODE_SCORE (or the lowest, when ``reverse``)."""
    top = max(scores, default=0)
    if top == 0:
        if reverse:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        return
    for i, s in enumerate(scores):
        v = MAX_NODE_SCORE * s // top
        scores[i] = MAX_NODE_SCORE - v if reverse else v
