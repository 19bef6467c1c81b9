"""Probes and lifecycle hooks of a pod's containers, as the pod workers see them.

The workers ask three things (is the container started, is it ready, start the
probes of a container that now runs) and delegate two (postStart after a start,
preStop then stop on termination). Probe results come back as wake-ups of the
pod's worker, which then publishes the status (readiness) or restarts the
container (liveness, startup), exactly once per change.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from kubelite.agent.podruntime import ContainerInfo
from kubelite.agent.prober import run_action

if TYPE_CHECKING:
    from kubelite.agent.agent import Agent
    from kubelite.agent.podworker import PodWorker


KINDS = {"startupProbe": "startup", "livenessProbe": "liveness", "readinessProbe": "readiness"}
DEFAULTS = {"initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1,
            "failureThreshold": 3}


class _ContainerProbes:
    def __init__(self, container_id: str, c: dict[str, Any]) -> None:
        self.container_id = container_id
        self.spec = c
        self.ready = "readinessProbe" not in c
        self.started = "startupProbe" not in c
        self.tasks: list[asyncio.Task[None]] = []


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
        for field, kind in KINDS.items():
            if c.get(field):
                entry.tasks.append(asyncio.get_running_loop().create_task(
                    self._loop(w, c, info, entry, kind, {**DEFAULTS, **c[field]}),
                    name=f"{kind} probe {w.key}/{c['name']}"))

    def started(self, w: PodWorker, name: str) -> bool:
        e = self._entry(w, name)
        return True if e is None else e.started

    def ready(self, w: PodWorker, name: str) -> bool:
        e = self._entry(w, name)
        return True if e is None else (e.ready and e.started)

    def _netns(self, w: PodWorker) -> str:
        if (w.pod.get("spec") or {}).get("hostNetwork"):
            return "/proc/self/ns/net"
        sb = self.agent.runtime.sandboxes.get(w.uid)
        return sb.netns if sb is not None else "/proc/self/ns/net"

    async def _loop(self, w: PodWorker, c: dict[str, Any], info: ContainerInfo, entry: _ContainerProbes, kind: str,
                    probe: dict[str, Any]) -> None:
        """The kubelet's prober worker: after initialDelaySeconds, every periodSeconds, thresholds applied to
        consecutive results; liveness and readiness wait for the startup probe."""
        period = max(float(probe["periodSeconds"]), 1.0)
        await asyncio.sleep(float(probe["initialDelaySeconds"]))
        successes = failures = 0
        label = kind.capitalize()
        while True:
            if kind == "startup" and entry.started:
                return
            if kind != "startup" and not entry.started:
                await asyncio.sleep(period)
                continue
            r = await run_action("probe", probe, self.agent.engine, info, self._netns(w), c,
                                 float(probe["timeoutSeconds"]))
            if entry is not self._entry(w, c["name"]):
                return  # the container was replaced meanwhile
            if r.ok:
                successes, failures = successes + 1, 0
                if successes >= int(probe["successThreshold"]):
                    self._verdict(w, entry, kind, True, "")
            else:
                successes, failures = 0, failures + 1
                await self.agent.event(w.pod, "Warning", "Unhealthy", f"{label} probe failed: {r.message}".strip())
                if failures >= int(probe["failureThreshold"]):
                    self._verdict(w, entry, kind, False, r.message)
                    if kind in ("liveness", "startup"):
                        return  # the container restarts; its next instance gets new probes
            await asyncio.sleep(period)

    def _verdict(self, w: PodWorker, e: _ContainerProbes, kind: str, ok: bool, message: str) -> None:
        name = e.spec["name"]
        if kind == "readiness":
            if e.ready != ok:
                e.ready = ok
                w.wake()
        elif kind == "startup":
            if ok and not e.started:
                e.started = True
                w.wake()
            elif not ok:
                asyncio.get_running_loop().create_task(w.kill_for_probe(name, "startup", message))
        elif kind == "liveness" and not ok:
            asyncio.get_running_loop().create_task(w.kill_for_probe(name, "liveness", message))

    def _stop_entry(self, e: _ContainerProbes) -> None:
        for t in e.tasks:
            t.cancel()
        e.tasks = []

    async def stop_pod(self, w: PodWorker) -> None:
        for e in self._pods.pop(w.uid, {}).values():
            self._stop_entry(e)

    async def post_start(self, w: PodWorker, c: dict[str, Any], info: ContainerInfo) -> bool:
        """The postStart hook; False (and the container killed) when it failed."""
        hook = (c.get("lifecycle") or {}).get("postStart")
        if not hook:
            return True
        r = await run_action("hook", hook, self.agent.engine, info, self._netns(w), c, w.grace())
        if r.ok:
            return True
        await self.agent.event(w.pod, "Warning", "FailedPostStartHook", f"PostStartHook failed: {r.message}")
        await self.agent.runtime.stop(info, w.grace())
        return False

    async def pre_stop_and_stop(self, w: PodWorker, info: ContainerInfo, grace: float) -> None:
        """preStop (within the grace period), then SIGTERM, the rest of the grace period, SIGKILL."""
        pod_spec = w.pod.get("spec") or {}
        spec: dict[str, Any] = next((c for c in [*(pod_spec.get("containers") or []),
                                                 *(pod_spec.get("initContainers") or [])]
                                     if c["name"] == info.name), {})
        hook = (spec.get("lifecycle") or {}).get("preStop")
        loop = asyncio.get_running_loop()
        start = loop.time()
        if hook:
            try:
                r = await asyncio.wait_for(run_action("hook", hook, self.agent.engine, info, self._netns(w),
                                                      spec, grace), grace)
                if not r.ok:
                    await self.agent.event(w.pod, "Warning", "FailedPreStopHook", f"PreStopHook failed: {r.message}")
            except TimeoutError:
                await self.agent.event(w.pod, "Warning", "FailedPreStopHook",
                                       f"PreStopHook did not finish in {grace:.0f}s")
        # Kubernetes gives SIGTERM at least 2 s even when preStop used the whole grace period.
        await self.agent.runtime.stop(info, max(grace - (loop.time() - start), 2.0), _stop_signal(self.agent, info))


def _stop_signal(agent: Agent, info: ContainerInfo) -> str:
    """The image's STOPSIGNAL, else SIGTERM."""
    try:
        cfg = agent.engine.images.get(info.record.image_id).config.get("config") or {}
    except Exception:  # noqa: BLE001 - an image removed meanwhile: the default signal
        return "SIGTERM"
    sig = str(cfg.get("StopSignal") or "SIGTERM")
    return sig if sig.startswith("SIG") or sig.isdigit() else "SIG" + sig
