"""The node agent: registers the node, watches the pods bound to it, runs a worker per pod.

Start order: the runtime view of what already runs (containers of this node
from before a restart are kept, not restarted), the Node and its heartbeats,
the node's streaming server (logs, exec, attach, port-forward for the API
server), then the pod informer (``spec.nodeName=<node>``) that starts a
:class:`~kubelite.agent.podworker.PodWorker` for every pod. Containers whose
pod no longer exists are stopped and removed once the informer has synced
(the kubelet's orphan cleanup). ``stop()`` stops the agent, not the pods.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelite.agent.backoff import Backoff
from kubelite.agent.injection import ConfigInjector
from kubelite.agent.node import NodeReporter
from kubelite.agent.podruntime import PodRuntime
from kubelite.agent.podworker import PodWorker
from kubelite.agent.probing import ProbeManager
from kubelite.api.client import APIClient, resource_path
from kubelite.api.informer import Informer
from kubelite.containers.engine import DEFAULT_IMAGE_NAMES, Engine
from kubelite.controllers.events import EventRecorder
from kubelite.errors import KubeliteError, NotFound
from kubelite.images.image import Image
from kubelite.paths import data_root, state_root

log = logging.getLogger(__name__)


@dataclass
class AgentConfig:
    node_name: str
    data_dir: Path
    node_ip: str = ""
    port: int = 10250
    ca_pem: bytes = b""  # the cluster CA: the streaming server accepts only the API server's client cert
    image_root: Path | None = None  # default: the shared image store (kubelite images)
    state_dir: Path | None = None
    backoff_base: float = 10.0
    volume_refresh: float = 10.0
    labels: dict[str, str] = field(default_factory=dict)


def default_node_ip() -> str:
    """The address other hosts reach this one at (the source address of the default route)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as s:
        try:
            s.connect(("10.255.255.255", 1))
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


class ImageResolver:
    """``imagePullPolicy`` against the local image store (registry pulls come later): an image that is
    not here is an ErrImagePull whatever the policy says."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def lookup(self, ref: str, policy: str) -> Image | str:
        try:
            return self.engine.images.get(ref)
        except NotFound:
            if ref in DEFAULT_IMAGE_NAMES:
                self.engine.images.ensure_default()
                return self.engine.images.get(ref)
            return (f'Failed to pull image "{ref}": image not found in the node\'s image store '
                    f"(import it with `kubelite image import`)")
        except KubeliteError as e:
            return f'Failed to pull image "{ref}": {e}'

    def node_images(self) -> list[dict[str, Any]]:
        out = []
        for rec in self.engine.images.list():
            out.append({"names": [rec.name, f"{rec.name.split(':')[0]}@{rec.digest}"], "sizeBytes": rec.size})
        return out


class Agent:
    def __init__(self, client: APIClient, config: AgentConfig) -> None:
        self.client = client
        self.config = config
        self.node_name = config.node_name
        self.node_ip = config.node_ip or default_node_ip()
        state = config.state_dir or state_root()
        self.engine = Engine(config.image_root or data_root(), state / "containers")
        self.runtime = PodRuntime(self.node_name, self.engine, state / "sandboxes")
        self.images = ImageResolver(self.engine)
        self.backoff = Backoff(base=config.backoff_base)
        self.volume_refresh = config.volume_refresh
        self.recorder = EventRecorder(client, "kubelet")
        self.reporter = NodeReporter(client, self.node_name, self.node_ip, config.port, config.data_dir,
                                     labels=config.labels)
        self.injector = ConfigInjector(client, config.data_dir / "pods", self.node_ip,
                                       self.reporter.capacity()[1] if config.data_dir.exists() else None)
        self.probing = ProbeManager(self)
        self.workers: dict[str, PodWorker] = {}
        self.informer: Informer | None = None
        self.streaming: Any = None
        self._cleanup_task: asyncio.Task[None] | None = None

    def pod_path(self, namespace: str, name: str, sub: str | None = None) -> str:
        return resource_path("v1", "pods", namespace, name, sub)

    async def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        obj = {"apiVersion": "v1", "kind": "Pod", **obj}
        self.recorder.event(obj, type_, reason, message)

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self.engine.images.ensure_default)
        self.reporter.images = await asyncio.to_thread(self.images.node_images)
        await self._start_streaming()
        await self.reporter.register()
        self.reporter.start()
        self.informer = Informer(self.client, resource_path("v1", "pods"),
                                 field_selector=f"spec.nodeName={self.node_name}", name="agent pods")
        self.informer.add_handler(self._on_pod)
        await self.informer.start()
        self._cleanup_task = asyncio.create_task(self._cleanup_orphans(), name="orphan cleanup")

    async def _start_streaming(self) -> None:
        from kubelite.agent.streaming.server import StreamingServer
        from kubelite.agent.streams import PodContainerFinder

        self.streaming = StreamingServer(PodContainerFinder(self), self.config.ca_pem,
                                         host=self.node_ip, port=self.config.port)
        await self.streaming.start()
        self.reporter.port = self.streaming.port  # the port it got (0 asks for any free one)

    async def stop(self) -> None:
        """Stop the agent; the pods' containers keep running and are re-adopted by the next start."""
        if self._cleanup_task is not None:
            self._cleanup_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cleanup_task
        if self.informer is not None:
            await self.informer.stop()
        # Pods being deleted finish their clean-up first: nothing would come back for them later.
        leaving = [w for w in self.workers.values() if w.gone or w.pod["metadata"].get("deletionTimestamp")]
        if leaving:
            await asyncio.wait([w.task for w in leaving if w.task is not None], timeout=30)
        await asyncio.gather(*(w.stop() for w in list(self.workers.values())))
        self.workers.clear()
        await self.reporter.stop()
        if self.streaming is not None:
            await self.streaming.stop()
        await self.recorder.stop()
        self.runtime.close()

    # --- pods ------------------------------------------------------------------------------------------------

    def _on_pod(self, etype: str, pod: dict[str, Any], old: dict[str, Any] | None) -> None:
        uid = pod["metadata"]["uid"]
        w = self.workers.get(uid)
        if etype == "DELETED":
            if w is not None:
                w.pod = pod
                w.gone = True
                w.wake()
            return
        if w is None:
            w = PodWorker(self, pod)
            self.workers[uid] = w
            w.start()
        else:
            w.update(pod)

    def worker_done(self, w: PodWorker) -> None:
        if self.workers.get(w.uid) is w:
            del self.workers[w.uid]

    def find_worker(self, namespace: str, name: str) -> PodWorker | None:
        for w in self.workers.values():
            md = w.pod["metadata"]
            if md["name"] == name and md.get("namespace", "default") == namespace:
                return w
        return None

    async def _cleanup_orphans(self) -> None:
        """Containers, sandboxes and volumes of pods that are gone (deleted while the agent was down)."""
        while True:
            try:
                known = set(self.workers)
                infos = await asyncio.to_thread(self.runtime.containers)
                for info in infos:
                    if info.pod_uid and info.pod_uid not in known:
                        await self.runtime.stop(info, 2)
                        await self.runtime.remove(info)
                for uid in self.runtime.sandboxes.uids():
                    if uid not in known:
                        await asyncio.to_thread(self.runtime.remove_sandbox, uid)
                for uid in self.injector.pod_uids():
                    if uid not in known:
                        await self.injector.teardown(uid)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("orphan cleanup failed")
            await asyncio.sleep(30)
