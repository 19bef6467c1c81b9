"""The agent's one narrow interface to the container runtime (the role CRI plays for the kubelet).

Everything the pod workers do to containers goes through :class:`PodRuntime`:
list a node's containers, create-and-start one, stop one, remove one, and the
sandboxes. Containers are the docker-like engine's containers
(:mod:`kubelite.containers.engine`), labelled with their pod and node, so the
agent keeps no state of its own: after a restart it finds its pods' containers
by their labels and carries on (re-adoption), and ``kubelite ps`` shows them as
``docker ps`` shows a kubelet's.

The engine's calls block (mounts, the supervisor's report): they run in
threads. The supervisors (shims) are not forks of the agent: a zygote
(:mod:`kubelite.runtime.zygote`), started with the runtime, forks them from a
small interpreter that holds only the runtime layer, so a shim costs a few
MiB instead of a copy of the agent's heap, and the agent never forks while
its other threads and its event loop run. Creates go through a small pool:
what is left of a create in the agent (snapshot, mounts, spec) holds the GIL.

Exits are events, not something to poll for: :meth:`PodRuntime.watch_exit`
opens a pidfd on the container's shim (which writes ``exit.json`` and then
exits) and has the event loop call back when it becomes readable, so a pod
worker with every container watched can resync rarely.

Listing a pod's containers is in memory: the engine keeps the records it has
read (they never change) and only lists the directory, so the workers' resyncs
cost one ``getdents`` and the reads of their own containers' state.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelite.agent.sandbox import Sandbox, SandboxManager
from kubelite.containers.engine import ContainerRecord, ContainerView, Engine
from kubelite.containers.specgen import RunOptions
from kubelite.errors import KubeliteError, NotFound
from kubelite.runtime.container import parse_signal
from kubelite.runtime.zygote import Zygote

POD_UID = "io.kubernetes.pod.uid"
POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
CONTAINER_NAME = "io.kubernetes.container.name"
RESTART_COUNT = "io.kubernetes.container.restartCount"
CONTAINER_HASH = "io.kubernetes.container.hash"
INIT = "io.kubelite.container.init"
NODE = "io.kubelite.node"


@dataclass
class ContainerInfo:
    """One container of a pod as the runtime knows it now."""

    record: ContainerRecord
    view: ContainerView

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.record.options.get("labels") or {})

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        return self.labels.get(CONTAINER_NAME, "")

    @property
    def pod_uid(self) -> str:
        return self.labels.get(POD_UID, "")

    @property
    def attempt(self) -> int:
        return int(self.labels.get(RESTART_COUNT, "0"))

    @property
    def spec_hash(self) -> str:
        return self.labels.get(CONTAINER_HASH, "")

    @property
    def running(self) -> bool:
        return self.view.status == "running"

    @property
    def exited(self) -> bool:
        return self.view.status == "exited"

    @property
    def exit_code(self) -> int:
        return int((self.view.exit or {}).get("exitCode", 0))

    @property
    def oom_killed(self) -> bool:
        return bool((self.view.exit or {}).get("oomKilled"))

    @property
    def started_at(self) -> str:
        st = self.view.state
        return (st.started if st is not None else "") or (self.view.exit or {}).get("startedAt", "")

    @property
    def finished_at(self) -> str:
        return str((self.view.exit or {}).get("finishedAt", ""))

    @property
    def log_path(self) -> str:
        return self.record.log_path


class PodRuntime:
    """Containers and sandboxes of the pods of one node."""

    def __init__(self, node: str, engine: Engine, sandbox_root: Path, create_threads: int = 8) -> None:
        self.node = node
        self.engine = engine
        self.sandboxes = SandboxManager(sandbox_root)
        self._create_pool = ThreadPoolExecutor(create_threads, thread_name_prefix="pod-create")
        self.zygote = Zygote(tag=str(engine.runtime.store.root))
        self.zygote.start()
        engine.shim_starter = self.zygote.start_shim
        self._exit_watches: dict[str, tuple[int, asyncio.AbstractEventLoop, list[Callable[[], None]]]] = {}
        # container id -> the shim's pidfd, opened by the thread that started it, until watch_exit takes it
        self._pidfds: dict[str, int] = {}

    def close(self) -> None:
        for cid in list(self._exit_watches):
            self._unwatch(cid)
        while self._pidfds:
            os.close(self._pidfds.popitem()[1])
        self._create_pool.shutdown(wait=True)
        self.zygote.close()

    # --- reading ---------------------------------------------------------------------------------------

    def containers(self, pod_uid: str | None = None) -> list[ContainerInfo]:
        """This node's containers (of one pod if given), newest first."""
        out = []
        for rec in self.engine.records():
            labels = rec.options.get("labels") or {}
            if labels.get(NODE) != self.node or (pod_uid is not None and labels.get(POD_UID) != pod_uid):
                continue
            try:
                out.append(ContainerInfo(rec, self.engine.view(rec)))
            except KubeliteError:
                continue
        return out

    def refresh(self, info: ContainerInfo) -> ContainerInfo:
        return ContainerInfo(info.record, self.engine.view(info.record))

    def watch_exit(self, info: ContainerInfo, on_exit: Callable[[], None]) -> bool:
        """Have the running event loop call ``on_exit`` once when the container has exited (its exit
        recorded). True when watched (or already exited: then ``on_exit`` is scheduled at once); False
        when it cannot be watched and the caller must poll. Called from the event loop's thread."""
        loop = asyncio.get_running_loop()
        watch = self._exit_watches.get(info.id)
        if watch is not None:
            if on_exit not in watch[2]:
                watch[2].append(on_exit)
            return True
        fd = self._pidfds.pop(info.id, None)
        if fd is not None:  # opened by the thread that started it, before ``info`` was read
            running = info.running
        else:
            st = info.view.state
            if not info.running or st is None or st.shim_pid <= 0:
                return False
            try:
                fd = os.pidfd_open(st.shim_pid)
            except OSError:
                fd = -1
            # The shim writes the exit before it exits, so if the pid was another process's by the time we
            # opened it, the record already says exited: checked after the open, not before.
            running = self.refresh(info).running
        if not running:
            if fd >= 0:
                os.close(fd)
            loop.call_soon(on_exit)
            return True
        if fd < 0:
            return False
        self._exit_watches[info.id] = (fd, loop, [on_exit])
        loop.add_reader(fd, self._exited, info.id)
        return True

    def _exited(self, cid: str) -> None:
        callbacks = self._unwatch(cid)
        for cb in callbacks:
            cb()

    def _unwatch(self, cid: str) -> list[Callable[[], None]]:
        watch = self._exit_watches.pop(cid, None)
        if watch is None:
            return []
        fd, loop, callbacks = watch
        if not loop.is_closed():
            loop.remove_reader(fd)
        os.close(fd)
        return callbacks

    # --- changing ---------------------------------------------------------------------------------------

    async def start(self, opts: RunOptions) -> ContainerInfo:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._create_pool, self._create_and_start, opts)

    def _create_and_start(self, opts: RunOptions) -> ContainerInfo:
        rec = self.engine.create(opts)
        try:
            st = self.engine.start(rec)
        except BaseException:
            self.engine.remove(rec.id, force=True)
            raise
        # The shim's pidfd for watch_exit, opened here so that the event loop's thread reads no state file
        # then: the view below is read after the open, which is the check watch_exit needs.
        if st.shim_pid > 0:
            with contextlib.suppress(OSError):
                self._pidfds[rec.id] = os.pidfd_open(st.shim_pid)  # a new container: no fd of its own yet
        return ContainerInfo(rec, self.engine.view(rec))

    async def signal(self, info: ContainerInfo, sig: str | int) -> None:
        await asyncio.to_thread(self._signal, info, parse_signal(sig) if isinstance(sig, str) else sig)

    def _signal(self, info: ContainerInfo, sig: int) -> None:
        try:
            if self.engine.view(info.record).status == "running":
                self.engine.runtime.kill(info.id, sig)
        except (NotFound, ProcessLookupError):
            pass
        except KubeliteError:
            pass

    async def stop(self, info: ContainerInfo, grace: float, stop_signal: str = "SIGTERM") -> None:
        """SIGTERM (or the image's stop signal), up to ``grace`` seconds, then SIGKILL; returns once exited."""
        if not self.refresh(info).running:
            return
        await self.signal(info, stop_signal)
        deadline = time.monotonic() + max(grace, 0)
        delay = 0.02
        while time.monotonic() < deadline:
            if not self.refresh(info).running:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)
        await self.signal(info, signal.SIGKILL)
        for _ in range(400):
            if not self.refresh(info).running:
                return
            await asyncio.sleep(0.025)

    async def remove(self, info: ContainerInfo) -> None:
        await asyncio.to_thread(self._remove, info)

    def _remove(self, info: ContainerInfo) -> None:
        fd = self._pidfds.pop(info.id, None)
        if fd is not None:
            os.close(fd)
        try:
            self.engine.remove(info.id, force=True)
        except NotFound:
            pass

    # --- sandboxes ----------------------------------------------------------------------------------------

    def sandbox(self, uid: str, hostname: str, hosts: str) -> Sandbox:
        return self.sandboxes.ensure(uid, hostname, hosts)

    def remove_sandbox(self, uid: str) -> None:
        self.sandboxes.remove(uid)


def labels_for(pod: dict[str, Any], container: dict[str, Any], node: str, attempt: int, spec_hash: str,
               init: bool) -> dict[str, str]:
    md = pod["metadata"]
    out = {POD_UID: md["uid"], POD_NAME: md["name"], POD_NAMESPACE: md.get("namespace", "default"),
           CONTAINER_NAME: container["name"], RESTART_COUNT: str(attempt), CONTAINER_HASH: spec_hash, NODE: node}
    if init:
        out[INIT] = "true"
    return out
