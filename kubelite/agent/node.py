"""The Node object and its heartbeats: registration, status, the Lease in kube-node-lease.

As the kubelet: the Node is registered once with what the machine has
(capacity) and what pods may use (allocatable: capacity minus what the system
keeps, here the kubelet's default eviction threshold of 100Mi of memory), then
two heartbeats keep it alive: the Lease, renewed every 10 s (the node lifecycle
controller reads it), and the status with its conditions, written when a
condition changes and at least every minute. Pressure conditions are measured,
not assumed: available memory under 100Mi, free disk under 10% on the data dir,
or more than 90% of pid_max in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubelite import __version__ as VERSION
from kubelite.api.client import APIClient, resource_path
from kubelite.api.meta import now_rfc3339 as _now
from kubelite.errors import AlreadyExists, Conflict, KubeliteError, NotFound

log = logging.getLogger(__name__)

KUBELET_VERSION = "v1.32.0"
MEMORY_RESERVED = 100 * 1024 * 1024
MAX_PODS = 110
LEASE_SECONDS = 40


def _micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _meminfo() -> dict[str, int]:
    out = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        k, _, v = line.partition(":")
        out[k] = int(v.split()[0]) * 1024
    return out


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "Linux"


def _arch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


class NodeReporter:
    def __init__(self, client: APIClient, name: str, ip: str, port: int, data_dir: Path,
                 images: list[dict[str, Any]] | None = None, labels: dict[str, str] | None = None) -> None:
        self.client = client
        self.name = name
        self.ip = ip
        self.port = port
        self.data_dir = data_dir
        self.images = images or []
        self.labels = labels or {}
        self._task: asyncio.Task[None] | None = None
        self._last_status: dict[str, Any] | None = None
        self._last_write = 0.0

    @property
    def path(self) -> str:
        return resource_path("v1", "nodes", name=self.name)

    def capacity(self) -> tuple[dict[str, str], dict[str, str]]:
        mem = _meminfo()["MemTotal"]
        disk = shutil.disk_usage(self.data_dir)
        cap = {"cpu": str(os.cpu_count() or 1), "memory": f"{mem // 1024}Ki", "pods": str(MAX_PODS),
               "ephemeral-storage": f"{disk.total // 1024}Ki"}
        alloc = dict(cap, memory=f"{max(mem - MEMORY_RESERVED, 0) // 1024}Ki",
                     **{"ephemeral-storage": str(int(disk.total * 0.9))})
        return cap, alloc

    def conditions(self, now: str) -> list[dict[str, Any]]:
        mem_low = _meminfo().get("MemAvailable", 1 << 40) < MEMORY_RESERVED
        disk = shutil.disk_usage(self.data_dir)
        disk_low = disk.free < disk.total * 0.1
        pid_max = int(_read("/proc/sys/kernel/pid_max") or "4194304")
        pids = sum(1 for p in os.listdir("/proc") if p.isdigit())
        pid_low = pids > pid_max * 0.9
        old = {c["type"]: c for c in (self._last_status or {}).get("conditions", [])}

        def cond(t: str, bad: bool, ok_reason: str, bad_reason: str, ok_msg: str, bad_msg: str,
                 ready: bool = False) -> dict[str, Any]:
            status = ("False" if bad else "True") if ready else ("True" if bad else "False")
            prev = old.get(t)
            trans = prev["lastTransitionTime"] if prev and prev["status"] == status else now
            return {"type": t, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": trans,
                    "reason": bad_reason if bad else ok_reason, "message": bad_msg if bad else ok_msg}

        return [
            cond("MemoryPressure", mem_low, "KubeletHasSufficientMemory", "KubeletHasInsufficientMemory",
                 "kubelet has sufficient memory available", "kubelet has insufficient memory available"),
            cond("DiskPressure", disk_low, "KubeletHasNoDiskPressure", "KubeletHasDiskPressure",
                 "kubelet has no disk pressure", "kubelet has disk pressure"),
            cond("PIDPressure", pid_low, "KubeletHasSufficientPID", "KubeletHasInsufficientPID",
                 "kubelet has sufficient PID available", "kubelet has insufficient PID available"),
            cond("Ready", False, "KubeletReady", "KubeletNotReady", "kubelet is posting ready status", "",
                 ready=True),
        ]

    def status(self) -> dict[str, Any]:
        cap, alloc = self.capacity()
        return {
            "capacity": cap, "allocatable": alloc,
            "conditions": self.conditions(_now()),
            "addresses": [{"type": "InternalIP", "address": self.ip}, {"type": "Hostname", "address": self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
            "nodeInfo": {
                "machineID": _read("/etc/machine-id"), "systemUUID": _read("/sys/class/dmi/id/product_uuid"),
                "bootID": _read("/proc/sys/kernel/random/boot_id"), "kernelVersion": platform.release(),
                "osImage": _os_image(), "containerRuntimeVersion": f"kubelite://{VERSION}",
                "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": "", "operatingSystem": "linux",
                "architecture": _arch(),
            },
            "images": self.images,
        }

    async def register(self) -> None:
        labels = {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": _arch(),
                  "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": _arch(), **self.labels}
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.name, "labels": labels}}
        try:
            await self.client.create(resource_path("v1", "nodes"), body)
        except AlreadyExists:
            await self.client.patch(self.path, {"metadata": {"labels": labels}}, "merge")
        await self.write_status(force=True)
        await self.renew_lease()

    async def write_status(self, force: bool = False) -> None:
        st = self.status()
        loop = asyncio.get_running_loop()

        def strip(s: dict[str, Any] | None) -> Any:
            if s is None:
                return None
            return [{k: v for k, v in c.items() if k != "lastHeartbeatTime"} for c in s["conditions"]]

        changed = strip(st) != strip(self._last_status)
        if not (force or changed or loop.time() - self._last_write > 50):
            return
        await self.client.patch(resource_path("v1", "nodes", name=self.name, subresource="status"),
                                {"status": st}, "merge")
        self._last_status = st
        self._last_write = loop.time()

    async def renew_lease(self) -> None:
        path = resource_path("coordination.k8s.io/v1", "leases", "kube-node-lease", self.name)
        spec = {"holderIdentity": self.name, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": _micro_now()}
        try:
            await self.client.patch(path, {"spec": spec}, "merge")
        except NotFound:
            with contextlib.suppress(AlreadyExists):
                await self.client.create(
                    resource_path("coordination.k8s.io/v1", "leases", "kube-node-lease"),
                    {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": self.name, "namespace": "kube-node-lease",
                                  "ownerReferences": await self._owner()},
                     "spec": spec})

    async def _owner(self) -> list[dict[str, Any]]:
        try:
            node = await self.client.get(self.path)
        except KubeliteError:
            return []
        return [{"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": node["metadata"]["uid"]}]

    async def run(self, interval: float = 10.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.renew_lease()
                await self.write_status()
            except NotFound:  # the Node was deleted: register again, as the kubelet does
                with contextlib.suppress(KubeliteError):
                    await self.register()
            except (KubeliteError, Conflict) as e:
                log.warning("node heartbeat failed: %s", e)
            except Exception:  # noqa: BLE001 - say why, and keep beating: a dead heartbeat makes the node NotReady
                log.exception("node heartbeat failed")

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="node heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
