"""What the streaming server needs from the node: a pod's container, found by name.

The server never looks at pods or sandboxes itself; it asks a
:class:`PodContainers` for a :class:`ContainerRef` (the Engine container, its
CRI log files, the pod's network namespace) and does the rest with the
runtime's own exec, attach and log primitives. The agent implements ``find``
over its pod workers; :class:`StaticPods` implements it over a plain Engine
with a fixed table, for tests and for the docker-like CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from kubelite.containers.engine import ContainerRecord, Engine
from kubelite.errors import NotFound


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
