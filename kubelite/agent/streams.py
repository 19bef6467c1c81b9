"""The streaming server's view of this node's pods: a pod's container by name, from the pod workers.

``kubectl logs`` of a pod that has restarted reads the current container's log,
``--previous`` the one before (the worker keeps the newest two instances of each
container); port-forward needs only the pod's network namespace.

For ``/stats/summary`` it also lists every pod with a worker and a sandbox and
the running instance of each of its containers; the runtime's containers are
read once per listing and grouped by pod, not once per pod.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubelite.agent.config.errors import VolumeError
from kubelite.agent.config.volumes import volume_kind
from kubelite.agent.streaming.backend import (
    ContainerRef,
    StatsContainer,
    StatsNode,
    StatsPod,
    StatsVolume,
    image_bytes,
    running_container,
)
from kubelite.errors import NotFound

MEASURED = ("emptyDir", "configMap", "secret", "downwardAPI", "projected")
# The kubelet's IsLocalEphemeralVolume: on the node's disk and gone with the pod (an emptyDir not in memory)
LOCAL_EPHEMERAL = ("emptyDir", "configMap", "downwardAPI")

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

    def stats_node(self) -> StatsNode:
        a = self.agent
        return StatsNode(a.node_name, str(a.config.data_dir), str(a.engine.root), image_bytes(a.engine))

    def stats_pods(self) -> list[StatsPod]:
        a = self.agent
        running: dict[str, dict[str, StatsContainer]] = {}
        writable = a.engine.snapshots.writable_dirs()
        # oldest attempt first, so a newer running instance of the same name replaces an older one
        for info in sorted(a.runtime.containers(), key=lambda i: i.attempt):
            c = running_container(a.engine, info.name, info.view, writable)
            if c is not None:
                running.setdefault(info.pod_uid, {})[info.name] = c
        out = []
        for w in list(a.workers.values()):  # a copy: the event loop may add or drop workers meanwhile
            if a.runtime.sandboxes.get(w.uid) is None:
                continue
            md = w.pod["metadata"]
            containers = tuple(running.get(w.uid, {}).values())
            start = str((w.pod.get("status") or {}).get("startTime") or "") or \
                min((c.start_time for c in containers), default=str(md.get("creationTimestamp") or ""))
            out.append(StatsPod(md.get("namespace", "default"), md["name"], w.uid, start, containers,
                                self._volumes(w.pod)))
        return out

    def _volumes(self, pod: dict[str, Any]) -> tuple[StatsVolume, ...]:
        """The volumes whose content the agent keeps (the kubelet has a metrics provider for exactly these)."""
        out = []
        for v in (pod.get("spec") or {}).get("volumes") or []:
            try:
                kind = volume_kind(v)
                if kind not in MEASURED:
                    continue
                path = self.agent.injector.volumes.volume_dir(pod, v)
            except VolumeError:
                continue
            medium = ((v.get("emptyDir") or {}).get("medium") or "") if kind == "emptyDir" else ""
            out.append(StatsVolume(str(v["name"]), str(path), kind in LOCAL_EPHEMERAL and medium != "Memory"))
        return tuple(out)
