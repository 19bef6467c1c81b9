"""What the streaming server needs from the node: a pod's container, found by name.

The server never looks at pods or sandboxes itself; it asks a
:class:`PodContainers` for a :class:`ContainerRef` (the Engine container, its
CRI log files, the pod's network namespace) and does the rest with the
runtime's own exec, attach and log primitives. The agent implements ``find``
over its pod workers; :class:`StaticPods` implements it over a plain Engine
with a fixed table, for tests and for the docker-like CLI.

``/stats/summary`` needs the other direction, every pod and its running
containers: a :class:`StatsSource` lists them (the agent's finder is one) with
each container's cgroup manager, so the stats code reads counters through the
runtime's own cgroup code and never learns where cgroups live.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from kubelite.containers.engine import ContainerRecord, ContainerView, Engine
from kubelite.errors import NotFound
from kubelite.runtime.cgroups import CgroupManager


@dataclass(frozen=True)
class ContainerRef:
    engine: Engine
    record: ContainerRecord | None  # None: the pod has no container instance yet (port-forward needs none)
    log_path: str
    previous_log_path: str | None
    netns_path: str


class PodContainers(Protocol):
    def find(self, namespace: str, pod: str, container: str | None) -> ContainerRef:
        """The named container of the pod (``None``: any, for port-forward); NotFound with a kubelet-like
        message when the pod or container is not on this node."""
        ...


@dataclass
class StaticPod:
    containers: dict[str, str]  # container name -> Engine container name or id
    netns_path: str
    previous_logs: dict[str, str] = field(default_factory=dict)


class StaticPods:
    """A fixed table of pods over one Engine."""

    def __init__(self, engine: Engine, pods: dict[tuple[str, str], StaticPod] | None = None) -> None:
        self.engine = engine
        self.pods = pods if pods is not None else {}

    def find(self, namespace: str, pod: str, container: str | None) -> ContainerRef:
        p = self.pods.get((namespace, pod))
        if p is None:
            raise NotFound(f'pod "{pod}" in namespace "{namespace}" not found on this node')
        name = container if container is not None else next(iter(p.containers), None)
        if name is None or name not in p.containers:
            raise NotFound(f'container "{name}" in pod "{pod}" is not available')
        rec = self.engine.find(p.containers[name])
        return ContainerRef(self.engine, rec, rec.log_path, p.previous_logs.get(name), p.netns_path)


# --- what /stats/summary needs (see :mod:`.stats`) ---------------------------------------------------------


@dataclass(frozen=True)
class StatsContainer:
    """A running container of a pod, as the Summary API reports it: its cgroup holds the numbers."""

    name: str
    id: str  # the runtime's id: a restarted container is a new one, so its CPU rate starts afresh
    start_time: str
    cgroup: CgroupManager
    log_path: str
    pid: int = 0  # its init: /proc/PID/net/dev is the pod's network
    writable_layer: str = ""  # the snapshot's upper directory: what the container wrote to its root


@dataclass(frozen=True)
class StatsVolume:
    name: str
    path: str
    local_ephemeral: bool  # counts towards the pod's ephemeral storage (the kubelet's IsLocalEphemeralVolume)


@dataclass(frozen=True)
class StatsPod:
    namespace: str
    name: str
    uid: str
    start_time: str
    containers: tuple[StatsContainer, ...]
    volumes: tuple[StatsVolume, ...] = ()


@dataclass(frozen=True)
class StatsNode:
    name: str
    fs_path: str  # the node's filesystem: the agent's data dir (volumes, logs)
    image_fs_path: str  # where images and container layers live
    image_bytes: int  # bytes used by images, for runtime.imageFs.usedBytes


@runtime_checkable
class StatsSource(Protocol):
    """The node and its pods' running containers; only called off the event loop (it reads the disk)."""

    def stats_node(self) -> StatsNode: ...

    def stats_pods(self) -> list[StatsPod]: ...


def running_container(engine: Engine, name: str, view: ContainerView,
                      writable: Mapping[str, Path] | None = None) -> StatsContainer | None:
    """``name``'s Summary entry if the container runs (a created or exited one has no live cgroup);
    ``writable``: the snapshotter's writable directories by key, read once for a whole listing."""
    if view.status != "running" or view.state is None:
        return None
    rec = view.record
    layer = (writable or {}).get(rec.id)
    return StatsContainer(name, rec.id, view.state.started or rec.created, engine.runtime.cgroup(view.state),
                          rec.log_path, view.state.pid, str(layer) if layer is not None else "")


def image_bytes(engine: Engine) -> int:
    return sum(i.size for i in engine.images.list())
