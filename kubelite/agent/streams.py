"""The streaming server's view of this node's pods: a pod's container by name, from the pod workers.

``kubectl logs`` of a pod that has restarted reads the current container's log,
``--previous`` the one before (the worker keeps the newest two instances of each
container); port-forward needs only the pod's network namespace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubelite.agent.streaming.backend import ContainerRef
from kubelite.errors import NotFound

if TYPE_CHECKING:
    from kubelite.agent.agent import Agent


class PodContainerFinder:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def find(self, namespace: str, pod: str, container: str | None) -> ContainerRef:
        w = self.agent.find_worker(namespace, pod)
        if w is None:
            raise NotFound(f'pod "{pod}" in namespace "{namespace}" not found on this node')
        spec = w.pod.get("spec") or {}
        names = [c["name"] for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]]
        name = container if container is not None else ((spec.get("containers") or [{}])[0].get("name"))
        if name not in names:
            raise NotFound(f'container "{name}" in pod "{pod}" is not available')
        infos = sorted((i for i in self.agent.runtime.containers(w.uid) if i.name == name),
                       key=lambda i: i.attempt, reverse=True)
        sandbox = self.agent.runtime.sandboxes.get(w.uid)
        if sandbox is None:
            raise NotFound(f'pod "{pod}" in namespace "{namespace}" has no sandbox on this node yet')
        if not infos:
            if container is None:  # port-forward: the namespace is all it needs
                return ContainerRef(self.agent.engine, None, "", None, sandbox.netns)
            raise NotFound(f'container "{name}" in pod "{pod}" is waiting to start: ContainerCreating')
        latest = infos[0]
        previous = infos[1].log_path if len(infos) > 1 else None
        return ContainerRef(self.agent.engine, latest.record, latest.log_path, previous, sandbox.netns)
