"""Probes and lifecycle hooks of a pod's containers, as the pod workers see them.

The workers ask three things (is the container started, is it ready, start the
probes of a container that now runs) and delegate two (postStart after a start,
preStop then stop on termination); the probing itself is
:mod:`kubelite.agent.probes`. Probe verdicts come back as wake-ups of the pod's
worker, which then publishes the status (readiness) or restarts the container
(liveness, startup), once per change. HTTP and TCP probes connect inside the
pod's network namespace (the node's for ``hostNetwork`` pods).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from kubelite.agent.podruntime import ContainerInfo
from kubelite.agent.probes.lifecycle import post_start, stop_container
from kubelite.agent.probes.prober import FAILURE, SUCCESS, ProbeTarget, container_target
from kubelite.agent.probes.worker import ContainerProbes, kill_grace

if TYPE_CHECKING:
    from kubelite.agent.agent import Agent
    from kubelite.agent.podworker import PodWorker


class ProbeManager:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        # pod uid -> container name -> (container id, its probes)
        self._pods: dict[str, dict[str, tuple[str, ContainerProbes]]] = {}

    def _probes(self, w: PodWorker, name: str) -> ContainerProbes | None:
        entry = self._pods.get(w.uid, {}).get(name)
        return entry[1] if entry is not None else None

    def _netns(self, w: PodWorker) -> str:
        if (w.pod.get("spec") or {}).get("hostNetwork"):
            return "/proc/self/ns/net"
        sb = self.agent.runtime.sandboxes.get(w.uid)
        return sb.netns if sb is not None else "/proc/self/ns/net"

    def _target(self, w: PodWorker, c: dict[str, Any], info: ContainerInfo) -> ProbeTarget:
        return container_target(self.agent.engine, info.record, c, netns=self._netns(w))

    def _on_event(self, w: PodWorker) -> Any:
        async def on_event(type_: str, reason: str, message: str) -> None:
            await self.agent.event(w.pod, type_, reason, message)
        return on_event

    def ensure(self, w: PodWorker, c: dict[str, Any], info: ContainerInfo) -> None:
        """Probes for the running container ``info``; replaces those of an earlier instance."""
        pod = self._pods.setdefault(w.uid, {})
        cur = pod.get(c["name"])
        if cur is not None and cur[0] == info.id:
            return
        if cur is not None:
            cur[1].stop()
        if not any(c.get(k) for k in ("startupProbe", "livenessProbe", "readinessProbe")):
            pod.pop(c["name"], None)
            return

        def on_result(kind: str, name: str, result: str, message: str) -> None:
            self._verdict(w, info.id, kind, name, result, message)

        probes = ContainerProbes(c, self._target(w, c, info), on_result, on_event=self._on_event(w),
                                 started_at=_monotonic_start(info))
        pod[c["name"]] = (info.id, probes.start())

    def started(self, w: PodWorker, name: str) -> bool:
        p = self._probes(w, name)
        return True if p is None else p.is_started()

    def ready(self, w: PodWorker, name: str) -> bool:
        p = self._probes(w, name)
        return True if p is None else p.is_ready()

    def _verdict(self, w: PodWorker, container_id: str, kind: str, name: str, result: str, message: str) -> None:
        entry = self._pods.get(w.uid, {}).get(name)
        if entry is None or entry[0] != container_id:
            return  # about an instance that has been replaced
        if kind in ("liveness", "startup") and result == FAILURE:
            spec = next((c for c in _containers(w) if c["name"] == name), {})
            grace = kill_grace(spec, kind, w.grace())
            asyncio.get_running_loop().create_task(w.kill_for_probe(name, kind, message, grace))
        elif result in (SUCCESS, FAILURE):
            w.wake()  # readiness changed, or the startup probe passed

    async def stop_pod(self, w: PodWorker) -> None:
        for _, probes in self._pods.pop(w.uid, {}).values():
            probes.stop()

    async def post_start(self, w: PodWorker, c: dict[str, Any], info: ContainerInfo) -> bool:
        """The postStart hook; False when it failed (the container has then been stopped)."""
        if not (c.get("lifecycle") or {}).get("postStart"):
            return True
        r = await post_start(self.agent.engine, info.record, c, self._target(w, c, info), w.grace(),
                             pod=w.pod["metadata"]["name"], on_event=self._on_event(w))
        return r.ok

    async def pre_stop_and_stop(self, w: PodWorker, info: ContainerInfo, grace: float) -> None:
        """preStop (within the grace period), then the stop signal, the rest of the grace period, SIGKILL."""
        spec: dict[str, Any] = next((c for c in _containers(w) if c["name"] == info.name), {"name": info.name})
        target = self._target(w, spec, info) if self.agent.runtime.refresh(info).running else None
        await stop_container(self.agent.engine, info.record, grace, (spec.get("lifecycle") or {}).get("preStop"),
                             target=target, pod=w.pod["metadata"]["name"], on_event=self._on_event(w))


def _containers(w: PodWorker) -> list[dict[str, Any]]:
    spec = w.pod.get("spec") or {}
    return [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]


def _monotonic_start(info: ContainerInfo) -> float | None:
    """When the container started, on the monotonic clock (initialDelaySeconds counts from there, also for
    a container adopted after an agent restart)."""
    from kubelite.agent.podworker import parse_time

    started = parse_time(info.started_at)
    return time.monotonic() - max(time.time() - started, 0.0) if started else None
