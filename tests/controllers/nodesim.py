"""Fake nodes for the DaemonSet and StatefulSet tests: Node objects, a scheduler stand-in and kubelet stand-ins.

No scheduler or node agent runs in the controller tests, yet DaemonSet and
StatefulSet behaviour depends on what they do: a bound pod is deleted
gracefully (it stays, Terminating, until its kubelet confirms), and rollouts wait
for pods to be Ready. :class:`NodeSim` does their part through the real API, as
they would: it binds each unbound pod through ``pods/binding`` to the node its
required ``metadata.name`` affinity names (a DaemonSet pod) or to the first node
(any other pod) unless a real scheduler runs (``bind=False``), marks bound pods Running and Ready through ``pods/status``, and
finishes a pod's graceful deletion with a grace-0 delete. ``hold(pod)`` keeps chosen
pods not Ready, ``hold_deletes`` keeps terminating pods around until released.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from kubelite.api.client import resource_path
from kubelite.api.informer import Informer
from kubelite.controllers.daemonset_nodes import target_node
from kubelite.errors import KubeliteError
from tests.controllers.conftest import ControllerHarness, is_ready, ready_status

Obj = dict[str, Any]
log = logging.getLogger(__name__)


_CAPACITY = {"cpu": "4", "memory": "8Gi", "pods": "110"}


def node_object(name: str, labels: dict[str, str] | None = None, taints: list[Obj] | None = None,
                unschedulable: bool = False) -> Obj:
    spec: Obj = {"taints": taints} if taints else {}
    if unschedulable:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {
        "kubernetes.io/hostname": name, **(labels or {})}}, "spec": spec,
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "capacity": _CAPACITY,
                   "allocatable": _CAPACITY}}


class NodeSim:
    def __init__(self, h: ControllerHarness, namespace: str, nodes: list[str], bind: bool = True) -> None:
        self.h, self.namespace, self.nodes, self.bind = h, namespace, nodes, bind
        self.hold: Callable[[Obj], bool] = lambda pod: False  # pods kept not Ready
        self.hold_deletes = False
        self._informer = Informer(h.client, resource_path("v1", "pods", namespace), name="nodesim")
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def _on_pod(self, etype: str, pod: Obj, old: Obj | None) -> None:
        if etype != "DELETED":
            self._queue.put_nowait(pod["metadata"]["name"])

    async def _step(self, name: str) -> None:
        pod = self._informer.get(f"{self.namespace}/{name}")
        if pod is None:
            return
        path = resource_path("v1", "pods", self.namespace, name)
        md, spec = pod["metadata"], pod.get("spec") or {}
        if md.get("deletionTimestamp"):
            if not self.hold_deletes:
                await self.h.client.delete(path, {"gracePeriodSeconds": 0})
            return
        if not spec.get("nodeName"):
            if not self.bind:
                return  # a real scheduler binds
            node = target_node(pod) or (self.nodes[0] if self.nodes else None)
            if node is not None:
                await self.h.client.create(path + "/binding", {
                    "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": node}})
            return
        if not is_ready(pod) and not self.hold(pod) and (pod.get("status") or {}).get("phase") != "Failed":
            await self.h.client.patch(path + "/status", {"status": ready_status(pod)})

    async def _work(self) -> None:
        while True:
            name = await self._queue.get()
            try:
                await self._step(name)
            except KubeliteError:
                pass  # the pod changed meanwhile: its next event brings it back
            except Exception:  # a bug here must not silently stop every fake node
                log.exception("nodesim: %s", name)

    def poke(self) -> None:
        """Look at every pod again (after changing ``hold`` or ``hold_deletes``)."""
        def go() -> None:
            for pod in self._informer.list():
                self._queue.put_nowait(pod["metadata"]["name"])
        self.h.loop.call_soon_threadsafe(go)

    async def _start(self) -> None:
        self._informer.add_handler(self._on_pod)
        await self._informer.start()
        self._task = asyncio.create_task(self._work())

    async def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._informer.stop()


@contextlib.contextmanager
def simulate(h: ControllerHarness, namespace: str, nodes: list[str], bind: bool = True) -> Iterator[NodeSim]:
    sim = NodeSim(h, namespace, nodes, bind)
    h.run(sim._start())
    try:
        yield sim
    finally:
        h.run(sim._stop())


@contextlib.contextmanager
def fake_nodes(h: ControllerHarness, *nodes: Obj) -> Iterator[list[str]]:
    """Create the Node objects for the block, delete them after (nodes are cluster-wide, tests share a server)."""
    names = []
    try:
        for n in nodes:
            h.run(h.client.create("/api/v1/nodes", n))
            names.append(n["metadata"]["name"])
        yield names
    finally:
        for name in names:
            with contextlib.suppress(KubeliteError):
                h.run(h.client.delete(f"/api/v1/nodes/{name}"))
