"""One worker per pod: level-triggered, idempotent, resumable (the kubelet's pod_workers + SyncPod).

Each pass of :meth:`PodWorker.sync` looks at the pod as the API has it and at the
containers the runtime has for it, and does the next thing needed: make the
sandbox and volumes, run init containers one at a time, start or restart app
containers per ``restartPolicy`` (with back-off), stop what must stop, and
publish the status computed from what is there. Nothing is remembered that the
runtime's records cannot give back, so a worker started by a restarted agent
picks up running containers as they are (re-adoption) instead of restarting them.

A pass runs when the pod changes, when a container exits (its shim's pidfd,
see :meth:`PodRuntime.watch_exit`; a short resync instead where that cannot be
watched), when a probe result changes, when a back-off expires, and on a slow
resync (the volume refresh, a safety net).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubelite.agent.containeropts import ContainerConfigError, container_hash, run_options
from kubelite.agent.podruntime import ContainerInfo, labels_for
from kubelite.agent.podstatus import ContainerFacts, PodFacts, pod_status
from kubelite.api.meta import now_rfc3339
from kubelite.errors import Conflict, KubeliteError, NotFound

if TYPE_CHECKING:
    from kubelite.agent.agent import Agent

log = logging.getLogger(__name__)

RESYNC = 1.0  # while something can change unseen (a container whose exit cannot be watched)
IDLE_RESYNC = 10.0  # when exits wake the worker: a safety net, and the volume refresh (at most this often)


def pod_hostname(pod: dict[str, Any]) -> str:
    spec = pod.get("spec") or {}
    if spec.get("hostNetwork"):  # the node's UTS namespace, so its name (as the kubelet leaves it)
        return os.uname().nodename
    return str(spec.get("hostname") or pod["metadata"]["name"])[:63]


def pod_hosts(pod: dict[str, Any]) -> str:
    """The pod's /etc/hosts, as the kubelet writes it."""
    spec = pod.get("spec") or {}
    if spec.get("hostNetwork"):  # the kubelet's copy of the node's own hosts file
        try:
            node_hosts = Path("/etc/hosts").read_text()
        except OSError:
            node_hosts = ""
        lines = ["# Kubernetes-managed hosts file (host network).", *node_hosts.splitlines()]
    else:
        lines = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost",
                 "::1\tlocalhost ip6-localhost ip6-loopback", f"127.0.1.1\t{pod_hostname(pod)}"]
    if spec.get("hostAliases"):
        lines.append("")
        lines.append("# Entries added by HostAliases.")
    for h in spec.get("hostAliases") or []:
        lines.append(f"{h.get('ip', '')}\t{' '.join(h.get('hostnames') or [])}")
    return "\n".join(lines) + "\n"


def parse_time(ts: str) -> float:
    if not ts:
        return 0.0
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


class PodWorker:
    def __init__(self, agent: Agent, pod: dict[str, Any]) -> None:
        self.agent = agent
        self.pod = pod
        self.uid: str = pod["metadata"]["uid"]
        self.facts = PodFacts(host_ip=agent.node_ip, start_time=(pod.get("status") or {}).get("startTime", ""))
        self.gone = False  # the API object no longer exists
        self._wake = asyncio.Event()
        self._next: float | None = None
        self.task: asyncio.Task[None] | None = None
        self._sent: dict[str, Any] | None = None
        self.probes: dict[str, Any] = {}  # container name -> probe set (see kubelite.agent.probing)
        self._image_ids: dict[str, str] = {}
        self._last_volume_refresh = 0.0

    @property
    def key(self) -> str:
        md = self.pod["metadata"]
        return f"{md.get('namespace', 'default')}/{md['name']}"

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"pod {self.key}")

    def update(self, pod: dict[str, Any]) -> None:
        old, self.pod = self.pod, pod
        if not _echo_of_our_status(old, pod):  # our own status write coming back needs no pass
            self.wake()

    def wake(self) -> None:
        self._wake.set()

    def wake_in(self, seconds: float) -> None:
        at = time.monotonic() + seconds
        if self._next is None or at < self._next:
            self._next = at

    async def stop(self) -> None:
        """Stop the worker, not the pod's containers (agent shutdown: they keep running)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.agent.probing.stop_pod(self)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self._next = None
            try:
                if await self.sync():
                    break
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pod %s: sync failed", self.key)
                self.wake_in(2.0)
            timeout = RESYNC if not self._exits_watched() else min(IDLE_RESYNC, max(RESYNC, self.agent.volume_refresh))
            if self._next is not None:
                timeout = max(0.01, min(timeout, self._next - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
        self.agent.worker_done(self)

    def _exits_watched(self) -> bool:
        """Whether every change to come will wake this worker: each running container's exit is watched,
        and no container has exited unhandled (else it polls every RESYNC, as it does where exits cannot be
        watched). A container started in this pass may have exited before the pass ended: what it shows
        as exited without a waiting reason is handled only if it needs nothing more (a finished init
        container, a pod in a terminal phase)."""
        spec = self.pod.get("spec") or {}
        inits = {c["name"] for c in spec.get("initContainers") or [] if c.get("restartPolicy") != "Always"}
        for name, f in self.facts.containers.items():
            latest = f.latest
            if latest is None or f.waiting is not None:
                continue  # not started yet, or waiting on what wakes it (back-off, a config error...)
            if latest.running:
                if not self.agent.runtime.watch_exit(latest, self.wake):
                    return False
            elif not (self.facts.terminal_phase or (name in inits and latest.exit_code == 0)):
                return False
        return True

    # --- one pass ---------------------------------------------------------------------------------------

    async def sync(self) -> bool:
        """One pass; True when the pod is finished with (deleted and cleaned up)."""
        pod = self.pod
        md = pod["metadata"]
        if self.gone or md.get("deletionTimestamp"):
            await self.terminate()
            return True
        spec = pod.get("spec") or {}
        if not self.facts.start_time:
            self.facts.start_time = now_rfc3339()
        current = self._group(await asyncio.to_thread(self.agent.runtime.containers, self.uid))
        if self.facts.terminal_phase:
            await self._stop_running(current, spec)
            await self.publish(current)
            return False
        # In the thread: a host-network pod's hosts file is read from the node's.
        sb = await asyncio.to_thread(lambda: self.agent.runtime.sandbox(self.uid, pod_hostname(pod), pod_hosts(pod)))
        self.facts.sandbox_ready = True
        if not await self._volumes(pod):
            await self.publish(current)
            return False
        policy = spec.get("restartPolicy", "Always")
        initialized = True
        for c in spec.get("initContainers") or []:
            f = current[c["name"]]
            if c.get("restartPolicy") == "Always":  # a sidecar: keeps running beside the app containers
                await self._ensure(c, f, "Always", sb, init=True)
                if not (f.latest is not None and f.latest.running and f.started):
                    initialized = False
                    break
                continue
            if f.latest is not None and f.latest.exited and f.latest.exit_code == 0 and f.waiting is None:
                continue
            initialized = False
            if f.latest is not None and f.latest.exited and policy == "Never":
                self.facts.terminal_phase = "Failed"
                break
            await self._ensure(c, f, "OnFailure", sb, init=True)
            break
        self.facts.initialized = initialized or self.facts.initialized
        if self.facts.initialized and not self.facts.terminal_phase:
            for c in spec.get("containers") or []:
                await self._ensure(c, current[c["name"]], policy, sb, init=False)
            self._decide_terminal(spec, current)
        if self.facts.terminal_phase:
            await self._stop_running(current, spec)
        await self.publish(current)
        return False

    def _group(self, infos: list[ContainerInfo]) -> dict[str, ContainerFacts]:
        spec = self.pod.get("spec") or {}
        names = [c["name"] for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]]
        old = self.facts.containers
        out: dict[str, ContainerFacts] = {}
        for name in names:
            mine = sorted((i for i in infos if i.name == name), key=lambda i: i.attempt, reverse=True)
            prev = old.get(name) or ContainerFacts()
            f = ContainerFacts(latest=mine[0] if mine else None, previous=mine[1] if len(mine) > 1 else None,
                               waiting=prev.waiting, ready=prev.ready, started=prev.started)
            if f.latest is not None and f.latest.running and prev.latest is not None and \
                    prev.latest.id == f.latest.id:
                f.waiting = None
            out[name] = f
        self.facts.containers = out
        return out

    def _decide_terminal(self, spec: dict[str, Any], current: dict[str, ContainerFacts]) -> None:
        policy = spec.get("restartPolicy", "Always")
        if policy == "Always":
            return
        apps = [current[c["name"]] for c in spec.get("containers") or []]
        if not apps or not all(f.latest is not None and f.latest.exited for f in apps):
            return
        failed = any(f.latest is not None and f.latest.exit_code != 0 for f in apps)
        if policy == "OnFailure" and failed:
            return
        self.facts.terminal_phase = "Failed" if failed else "Succeeded"
        for f in apps:
            f.waiting = None

    async def _ensure(self, c: dict[str, Any], f: ContainerFacts, policy: str, sb: Any, *, init: bool) -> None:
        """Get container ``c`` running (or leave it exited, as ``policy`` says)."""
        name = c["name"]
        latest = f.latest
        if latest is not None and latest.running:
            if latest.spec_hash != container_hash(c):  # its spec changed (the image, for one): replace it
                await self.agent.event(self.pod, "Normal", "Killing",
                                       f"Container {name} definition changed, will be restarted")
                await self.agent.runtime.stop(latest, self.grace())
            else:
                self.agent.probing.ensure(self, c, latest)
                f.started = self.agent.probing.started(self, name)
                f.ready = self.agent.probing.ready(self, name)
                return
            latest = self.agent.runtime.refresh(latest)
        f.ready = False
        f.started = False
        if latest is not None and latest.exited:
            if policy == "Never" or (policy == "OnFailure" and latest.exit_code == 0):
                f.waiting = None
                return
            now = time.time()
            exited = parse_time(latest.finished_at) or now
            ran = exited - (parse_time(latest.started_at) or exited)
            left = self.agent.backoff.wait_left(f"{self.uid}/{name}", exited, ran, now)
            if left > 0:
                delay = self.agent.backoff.current(f"{self.uid}/{name}")
                md = self.pod["metadata"]
                msg = (f"back-off {_duration(delay)} restarting failed container={name} "
                       f"pod={md['name']}_{md.get('namespace', 'default')}({self.uid})")
                if f.waiting is None or f.waiting[0] != "CrashLoopBackOff":
                    await self.agent.event(self.pod, "Warning", "BackOff", "Back-off restarting failed container "
                                           f"{name} in pod {md['name']}_{md.get('namespace', 'default')}"
                                           f"({self.uid})")
                f.waiting = ("CrashLoopBackOff", msg)
                self.wake_in(left)
                return
        await self._start(c, f, sb, init=init, attempt=(latest.attempt + 1) if latest is not None else 0)

    async def _start(self, c: dict[str, Any], f: ContainerFacts, sb: Any, *, init: bool, attempt: int) -> None:
        name = c["name"]
        # in a thread: the image store's files (and, the first time, importing the default image)
        image = await asyncio.to_thread(self.agent.images.lookup, c.get("image", ""), c.get("imagePullPolicy", ""))
        if isinstance(image, str) and c.get("imagePullPolicy") == "Never":
            msg = f'Container image "{c.get("image", "")}" is not present with pull policy of Never'
            if f.waiting is None or f.waiting[0] != "ErrImageNeverPull":
                await self.agent.event(self.pod, "Warning", "ErrImageNeverPull", msg)
            f.waiting = ("ErrImageNeverPull", msg)
            self.wake_in(self.agent.backoff.base)
            return
        if isinstance(image, str):  # not available: the message
            backoff_key = f"{self.uid}/{name}/image"
            reason = "ErrImagePull"
            if f.waiting is not None and f.waiting[0] in ("ErrImagePull", "ImagePullBackOff"):
                reason = "ImagePullBackOff"
                msg = f'Back-off pulling image "{c.get("image", "")}"'
                await self.agent.event(self.pod, "Normal", "BackOff", msg)
            else:
                msg = image
                await self.agent.event(self.pod, "Warning", "Failed", msg)
                await self.agent.event(self.pod, "Warning", "Failed", "Error: ErrImagePull")
            f.waiting = (reason, msg)
            left = self.agent.backoff.wait_left(backoff_key, time.time(), 0, time.time())
            self.wake_in(max(left, self.agent.backoff.base))
            return
        self._image_ids[name] = image.id
        try:
            warnings: list[tuple[str, str]] = []
            env = await self.agent.injector.env(self.pod, c, warnings)
            for reason, message in warnings:
                await self.agent.event(self.pod, "Warning", reason, message)
            command, args = self.agent.injector.command_args(c, env)
            mounts = self.agent.injector.mounts(self.pod, c, env)
            md = self.pod["metadata"]
            opts = run_options(
                self.pod, c, env=env, command=command, args=args, mounts=mounts, sandbox=sb,
                labels=labels_for(self.pod, c, self.agent.node_name, attempt, container_hash(c), init),
                name=f"k8s_{name}_{md['name']}_{md.get('namespace', 'default')}_{self.uid[:8]}_{attempt}",
                image_user=str((image.config.get("config") or {}).get("User") or ""),
                cgroups_path=f"/kubelite/pods/pod{self.uid}/{name}-{attempt}", hostname=self._hostname())
        except (ContainerConfigError, KubeliteError) as e:
            if f.waiting is None or f.waiting[1] != str(e):
                await self.agent.event(self.pod, "Warning", "Failed", f"Error: {e}")
            f.waiting = ("CreateContainerConfigError", str(e))
            self.wake_in(2.0)
            return
        if f.latest is None or f.latest.attempt == 0 and attempt == 0:
            await self.agent.event(self.pod, "Normal", "Pulled",
                                   f'Container image "{c.get("image", "")}" already present on machine')
        try:
            info = await self.agent.runtime.start(opts)
        except KubeliteError as e:
            await self.agent.event(self.pod, "Warning", "Failed", f"Error: {e}")
            f.waiting = ("RunContainerError", str(e))
            self.wake_in(2.0)
            return
        await self.agent.event(self.pod, "Normal", "Created", f"Created container {name}")
        await self.agent.event(self.pod, "Normal", "Started", f"Started container {name}")
        f.previous, f.latest, f.waiting = f.latest, info, None
        f.ready = f.started = False
        await self._prune(name, keep={info.id, *([f.previous.id] if f.previous else [])})
        self.agent.probing.ensure(self, c, info)
        f.started = self.agent.probing.started(self, name)
        f.ready = self.agent.probing.ready(self, name)
        if not await self.agent.probing.post_start(self, c, info):
            f.waiting = None
            self.wake()

    async def _prune(self, name: str, keep: set[str]) -> None:
        """Keep a container's newest two instances (the one running, the previous for ``logs --previous``)."""
        for info in await asyncio.to_thread(self.agent.runtime.containers, self.uid):
            if info.name == name and info.id not in keep and not info.running:
                await self.agent.runtime.remove(info)

    async def _stop_running(self, current: dict[str, ContainerFacts], spec: dict[str, Any]) -> None:
        for f in current.values():
            if f.latest is not None and f.latest.running:
                await self.agent.runtime.stop(f.latest, self.grace())

    async def kill_for_probe(self, name: str, kind: str, message: str, grace: float | None = None) -> None:
        """A liveness or startup probe failed: restart the container (per the restart policy)."""
        f = self.facts.containers.get(name)
        if f is None or f.latest is None or not f.latest.running:
            return
        await self.agent.event(self.pod, "Normal", "Killing",
                               f"Container {name} failed {kind} probe, will be restarted")
        await self.agent.probing.pre_stop_and_stop(self, f.latest, self.grace() if grace is None else grace)
        self.wake()

    def grace(self) -> float:
        md = self.pod["metadata"]
        g = md.get("deletionGracePeriodSeconds")
        if g is None:
            g = (self.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        return float(g)

    async def terminate(self) -> None:
        """The pod is being deleted: stop every container gracefully, remove every trace, then let the API
        object go (the kubelet's final delete with grace period 0)."""
        infos = await asyncio.to_thread(self.agent.runtime.containers, self.uid)
        grace = self.grace()
        running = [i for i in infos if i.running]
        for i in running:
            await self.agent.event(self.pod, "Normal", "Killing", f"Stopping container {i.name}")
        await self.agent.probing.stop_pod(self)
        await asyncio.gather(*(self.agent.probing.pre_stop_and_stop(self, i, grace) for i in running))
        for i in infos:
            await self.agent.runtime.remove(i)
        await self.agent.injector.teardown(self.uid)
        await asyncio.to_thread(self.agent.runtime.remove_sandbox, self.uid)
        self.agent.backoff.forget(self.uid)
        if not self.gone:
            md = self.pod["metadata"]
            if running:  # the final status: what the containers ended as
                with contextlib.suppress(KubeliteError):
                    await self.publish(self._group([]))
            with contextlib.suppress(NotFound, Conflict):
                await self.agent.client.delete(
                    self.agent.pod_path(md.get("namespace", "default"), md["name"]),
                    {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                     "preconditions": {"uid": self.uid}})

    async def _volumes(self, pod: dict[str, Any]) -> bool:
        try:
            now = time.monotonic()
            if not self._last_volume_refresh:
                await self.agent.injector.setup(pod)
                self._last_volume_refresh = now
            elif now - self._last_volume_refresh > self.agent.volume_refresh:
                self._last_volume_refresh = now
                try:
                    await self.agent.injector.refresh(pod)
                except KubeliteError as e:  # the running containers keep what they have
                    await self.agent.event(pod, "Warning", "FailedMount", str(e))
            return True
        except KubeliteError as e:
            await self.agent.event(pod, "Warning", "FailedMount", str(e))
            for f in self.facts.containers.values():
                f.waiting = ("ContainerCreating", "")
            self.wake_in(2.0)
            return False

    def _hostname(self) -> str:
        return pod_hostname(self.pod)

    async def publish(self, current: dict[str, ContainerFacts]) -> None:
        status = pod_status(self.pod, self.facts, self._image_ids, now_rfc3339())
        if status == self._sent:
            return
        md = self.pod["metadata"]
        try:
            out = await self.agent.client.patch(
                self.agent.pod_path(md.get("namespace", "default"), md["name"], "status"),
                {"metadata": {"uid": self.uid}, "status": status}, "merge")
        except NotFound:
            self.gone = True
            self.wake()
            return
        self._sent = status
        self.pod = {**self.pod, "status": out.get("status", status)}


def _echo_of_our_status(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether ``new`` differs from ``old`` only by the bookkeeping of a write (resourceVersion, managed
    fields), ``old`` being the pod as :meth:`PodWorker.publish` left it (with the status it wrote)."""
    if new.get("status") != old.get("status") or new.get("spec") != old.get("spec"):
        return False
    ignore = ("resourceVersion", "managedFields")
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return {k: v for k, v in om.items() if k not in ignore} == {k: v for k, v in nm.items() if k not in ignore}


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s >= 60 and s % 60 == 0:
        return f"{s // 60}m0s"
    if s >= 60:
        return f"{s // 60}m{s % 60}s"
    return f"{s}s"
