"""Probes and lifecycle hooks of a pod's containers, as the pod workers see them.

The workers ask three things (is the container started, is it ready, start the
probes of a container that now runs) and delegate two (postStart after a start,
preStop then stop on termination). Probe results come back as wake-ups of the
pod's worker, which then publishes the status (readiness) or restarts the
container (liveness, startup), exactly once per change.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from kubelite.agent.podruntime import ContainerInfo

if TYPE_CHECKING:
    from kubelite.agent.agent import Agent
    from kubelite.agent.podworker import PodWorker


class _ContainerProbes:
    def __init__(self, container_id: str, c: dict[str, Any]) -> None:
        self.container_id = container_id
        self.spec = c
        self.ready = "readinessProbe" not in c
        self.started = "startupProbe" not in c
        self.workers: list[Any] = []


class ProbeManager:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self._pods: dict[str, dict[str, _ContainerProbes]] = {}

    def _entry(self, w: PodWorker, name: str) -> _ContainerProbes | None:
        return self._pods.get(w.uid, {}).get(name)

    def ensure(self, w: PodWorker, c: dict[str, Any], info: ContainerInfo) -> None:
        """Probes for the running container ``info``; replaces those of an earlier instance."""
        pod = self._pods.setdefault(w.uid, {})
        cur = pod.get(c["name"])
        if cur is not None and cur.container_id == info.id:
            return
        if cur is not None:
            self._stop_entry(cur)
        entry = _ContainerProbes(info.id, c)
        pod[c["name"]] = entry
        self._start_workers(w, c, info, entry)

    def _start_workers(self, w: PodWorker, c: dict[str, Any], info: ContainerInfo, entry: _ContainerProbes) -> None:
        kinds = [k for k in ("startupProbe", "livenessProbe", "readinessProbe") if c.get(k)]
        if not kinds:
            return
        from kubelite.agent.probes.bridge import start_probe_workers

        entry.workers = start_probe_workers(self.agent, w, c, info, entry, kinds)

    def started(self, w: PodWorker, name: str) -> bool:
        e = self._entry(w, name)
        return True if e is None else e.started

    def ready(self, w: PodWorker, name: str) -> bool:
        e = self._entry(w, name)
        return True if e is None else (e.ready and e.started)

    def result(self, w: PodWorker, name: str, container_id: str, kind: str, ok: bool, message: str) -> None:
        """A probe worker's verdict changed."""
        e = self._entry(w, name)
        if e is None or e.container_id != container_id:
            return
        if kind == "readiness":
            e.ready = ok
            w.wake()
        elif kind == "startup":
            if ok:
                e.started = True
                w.wake()
            else:
                asyncio.get_running_loop().create_task(w.kill_for_probe(name, message))
        elif kind == "liveness" and not ok:
            asyncio.get_running_loop().create_task(w.kill_for_probe(name, message))

    def _stop_entry(self, e: _ContainerProbes) -> None:
        for pw in e.workers:
            with contextlib.suppress(Exception):
                pw.stop()
        e.workers = []

    async def stop_pod(self, w: PodWorker) -> None:
        for e in self._pods.pop(w.uid, {}).values():
            self._stop_entry(e)

    async def post_start(self, w: PodWorker, c: dict[str, Any], info: ContainerInfo) -> None:
        hook = (c.get("lifecycle") or {}).get("postStart")
        if not hook:
            return
        from kubelite.agent.probes.bridge import run_post_start

        await run_post_start(self.agent, w, c, info, hook)

    async def pre_stop_and_stop(self, w: PodWorker, info: ContainerInfo, grace: float) -> None:
        pod_spec = w.pod.get("spec") or {}
        spec: dict[str, Any] = next((c for c in [*(pod_spec.get("containers") or []), *(pod_spec.get("initContainers") or [])]
                     if c["name"] == info.name), {})
        hook = (spec.get("lifecycle") or {}).get("preStop")
        if hook:
            from kubelite.agent.probes.bridge import run_pre_stop

            loop = asyncio.get_running_loop()
            start = loop.time()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(run_pre_stop(self.agent, w, spec, info, hook), grace)
            grace = max(grace - (loop.time() - start), 2.0)
        await self.agent.runtime.stop(info, grace)
