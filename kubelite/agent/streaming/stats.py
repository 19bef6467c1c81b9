"""The kubelet's Summary API (``GET /stats/summary``, ``stats.k8s.io/v1alpha1``) over the runtime's cgroups.

A request takes one *snapshot*: every running container's counters (through
:mod:`.readings`, off the event loop) and the host's. CPU time is a counter;
``usageNanoCores`` is its rate, so the collector keeps the previous sample of
each container (by runtime id: a restarted container starts afresh) and of the
node, and reports the rate since then, as the kubelet does with the samples
its stats provider caches. When something in the snapshot has no previous
sample (the first request, a new container) the collector takes a second
snapshot a short moment later rather than leave the rate out; samples of
containers that are gone are dropped.

``only_cpu_and_memory=true`` (what metrics-server asks for) leaves out every
filesystem, network, rlimit and process field, as the kubelet's CPU-and-memory
provider does. Pod CPU and memory are the sums of the pod's containers.

Storage, as the kubelet measures it: a container's ``rootfs`` is its writable
layer (the snapshot's upper directory, walked like ``du``) on the image
filesystem; each volume the agent keeps content for (emptyDir, configMap,
secret, downwardAPI, projected) is walked the same way, on its own filesystem
(a tmpfs for secrets and memory emptyDirs); a pod's ``ephemeral-storage`` adds
its containers' writable layers and logs and its volumes on the node's disk
(emptyDir not in memory, configMap, downwardAPI: the kubelet's
``IsLocalEphemeralVolume``). Network counters come from ``/proc/PID/net/dev``
of a container of the pod (the node's own for the node), the loopback left out
as cAdvisor does: a pod with nothing but a loopback has no ``network``. Not
reported: accelerators and swap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubelite.agent.streaming import readings
from kubelite.agent.streaming.backend import StatsPod, StatsSource, StatsVolume
from kubelite.errors import KubeliteError

log = logging.getLogger(__name__)
FIRST_INTERVAL = 0.2  # seconds between the two snapshots of a first request
# A walk's result is reused this long: a volume of a million files takes seconds to walk, and a client polling
# the Summary must not make the agent walk it on every request (the kubelet walks once a minute, in the
# background, and serves the last result).
USAGE_TTL = 10.0
NODE_KEY = "/"  # the node's own CPU sample, next to the containers' runtime ids


@dataclass(frozen=True)
class CpuSample:
    cpu_ns: int  # cumulative CPU time
    at_ns: int  # when it was read, on a monotonic clock


def nano_cores(prev: CpuSample, cur: CpuSample) -> int | None:
    """CPU used per second between two samples, in billionths of a core; None when the two cannot be
    compared (no time between them, or the counter went back: a different cgroup behind the same key)."""
    elapsed = cur.at_ns - prev.at_ns
    used = cur.cpu_ns - prev.cpu_ns
    if elapsed <= 0 or used < 0:
        return None
    return used * 1_000_000_000 // elapsed


@dataclass
class Snapshot:
    at_ns: int
    time: str
    node_cpu_ns: int
    node_memory: readings.Memory
    pods: list[tuple[StatsPod, dict[str, readings.ContainerReading]]]
    keys: set[str] = field(default_factory=set)  # every CPU sample in it: the node and each container


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(stamp: str) -> str:
    """A runtime timestamp (nanoseconds) as a metav1.Time, which is whole seconds."""
    head, dot, _ = stamp.partition(".")
    return f"{head}Z" if dot and stamp.endswith("Z") else stamp


class SummaryCollector:
    """``await summary(only_cpu_and_memory)`` -> the Summary as JSON-ready dicts."""

    def __init__(self, source: StatsSource) -> None:
        self.source = source
        self.samples: dict[str, CpuSample] = {}
        self.usages: dict[str, tuple[float, readings.Usage]] = {}  # path -> (when walked, monotonic; result)

    def snapshot(self) -> Snapshot:
        """Every counter the Summary needs, read now (blocking: call it in a thread)."""
        pods = []
        keys = {NODE_KEY}
        for pod in self.source.stats_pods():
            got: dict[str, readings.ContainerReading] = {}
            for c in pod.containers:
                try:
                    got[c.name] = readings.container(c.cgroup, c.log_path)
                except (KubeliteError, OSError) as e:  # exited since it was listed: leave it out
                    log.debug("stats: container %s of %s/%s: %s", c.name, pod.namespace, pod.name, e)
                    continue
                keys.add(c.id)
            pods.append((pod, got))
        return Snapshot(time.monotonic_ns(), _rfc3339(time.time()), readings.node_cpu_ns(), readings.node_memory(),
                        pods, keys)

    async def summary(self, only_cpu_and_memory: bool = False) -> dict[str, Any]:
        snap = await asyncio.to_thread(self.snapshot)
        if not snap.keys <= self.samples.keys():
            self._remember(snap)
            await asyncio.sleep(FIRST_INTERVAL)
            snap = await asyncio.to_thread(self.snapshot)
        node = await asyncio.to_thread(self._node, snap, only_cpu_and_memory)
        disks = None if only_cpu_and_memory else await asyncio.to_thread(self.storage, snap)
        pods = [self._pod(snap, pod, got, disks) for pod, got in snap.pods]
        self._remember(snap)
        return {"node": node, "pods": pods}

    def storage(self, snap: Snapshot) -> Storage:
        """The walks and network counters of every pod in ``snap`` (blocking: call it in a thread)."""
        info = self.source.stats_node()
        out = Storage(_fs(readings.filesystem(info.fs_path), snap.time),
                      _fs(readings.filesystem(info.image_fs_path), snap.time))
        for pod, got in snap.pods:
            for c in pod.containers:
                layer = self._usage(c.writable_layer) if c.name in got and c.writable_layer else None
                if layer is not None:
                    out.layers[c.id] = layer
            out.volumes[pod.uid] = [(v, self._usage(v.path), _fs_of(v.path, snap.time)) for v in pod.volumes]
            pids = [c.pid for c in pod.containers if c.name in got and c.pid]
            if pids:
                out.networks[pod.uid] = _network(readings.PROC / str(pids[0]) / "net/dev", snap.time, "eth0")
        measured = {c.writable_layer for pod, _ in snap.pods for c in pod.containers} | \
            {v.path for pod, _ in snap.pods for v in pod.volumes}
        self.usages = {p: u for p, u in self.usages.items() if p in measured}  # what is gone is forgotten
        return out

    def _usage(self, path: str) -> readings.Usage | None:
        now = time.monotonic()
        cached = self.usages.get(path)
        if cached is not None and now - cached[0] < USAGE_TTL:
            return cached[1]
        try:
            usage = readings.disk_usage(path)
        except OSError:  # not set up yet, or removed since it was listed
            return None
        self.usages[path] = (now, usage)
        return usage

    def _remember(self, snap: Snapshot) -> None:
        new = {NODE_KEY: CpuSample(snap.node_cpu_ns, snap.at_ns)}
        for pod, got in snap.pods:
            for c in pod.containers:
                if c.name in got:
                    new[c.id] = CpuSample(got[c.name].cpu_ns, snap.at_ns)
        self.samples = new  # containers not in this snapshot are gone: their samples go too

    def _cpu(self, key: str, cpu_ns: int, snap: Snapshot) -> dict[str, Any]:
        out: dict[str, Any] = {"time": snap.time, "usageCoreNanoSeconds": cpu_ns}
        prev = self.samples.get(key)
        rate = nano_cores(prev, CpuSample(cpu_ns, snap.at_ns)) if prev is not None else None
        if rate is not None:
            out["usageNanoCores"] = rate
        return out

    def _node(self, snap: Snapshot, only_cpu_and_memory: bool) -> dict[str, Any]:
        info = self.source.stats_node()
        mem = snap.node_memory
        total = mem.limit or 0
        node: dict[str, Any] = {
            "nodeName": info.name,
            "startTime": _rfc3339(readings.boot_time()),
            "cpu": self._cpu(NODE_KEY, snap.node_cpu_ns, snap),
            "memory": {"time": snap.time, "availableBytes": max(0, total - mem.working_set), **_memory(mem)},
        }
        if only_cpu_and_memory:
            return node
        node["fs"] = _fs(readings.filesystem(info.fs_path), snap.time)
        image_fs = _fs(readings.filesystem(info.image_fs_path), snap.time)
        image_fs["usedBytes"] = info.image_bytes  # the images' bytes, not the whole filesystem's
        node["runtime"] = {"imageFs": image_fs}
        maxpid, curproc = readings.rlimit()
        node["rlimit"] = {"time": snap.time, "maxpid": maxpid, "curproc": curproc}
        network = _network(readings.PROC / "self/net/dev", snap.time, readings.default_interface())
        if network is not None:
            node["network"] = network
        return node

    def _pod(self, snap: Snapshot, pod: StatsPod, got: dict[str, readings.ContainerReading],
             disks: Storage | None) -> dict[str, Any]:
        containers = []
        for c in pod.containers:
            r = got.get(c.name)
            if r is None:
                continue
            memory: dict[str, Any] = {"time": snap.time, **_memory(r.memory)}
            if r.memory.limit is not None:
                memory["availableBytes"] = max(0, r.memory.limit - r.memory.working_set)
            entry: dict[str, Any] = {"name": c.name, "startTime": _seconds(c.start_time),
                                     "cpu": self._cpu(c.id, r.cpu_ns, snap), "memory": memory}
            if disks is not None:
                entry["logs"] = self._logs(c.log_path, r.log_bytes, snap.time)
                layer = disks.layers.get(c.id)
                if layer is not None:
                    entry["rootfs"] = {**disks.image_fs, "usedBytes": layer.bytes, "inodesUsed": layer.inodes}
            containers.append(entry)
        out: dict[str, Any] = {
            "podRef": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
            "startTime": _seconds(pod.start_time),
            "containers": containers,
            "cpu": _sum_cpu([c["cpu"] for c in containers], snap.time),
            "memory": _sum_memory([c["memory"] for c in containers], snap.time),
        }
        if disks is None:
            return out
        network = disks.networks.get(pod.uid)
        if network is not None:
            out["network"] = network
        volumes = disks.volumes.get(pod.uid, [])
        measured = [{**fs, "usedBytes": u.bytes, "inodesUsed": u.inodes, "name": v.name}
                    for v, u, fs in volumes if u is not None and fs is not None]
        if measured:
            out["volume"] = measured
        out["ephemeral-storage"] = _ephemeral(containers, [u for v, u, _ in volumes if v.local_ephemeral and u],
                                              disks.node_fs)
        out["process_stats"] = {"process_count": sum(r.processes for r in got.values())}
        return out

    @staticmethod
    def _logs(path: str, used: int, at: str) -> dict[str, Any]:
        fs = _fs_of(path, at) or {"time": at}
        fs["usedBytes"] = used
        fs["inodesUsed"] = 1 if used or path else 0
        return fs


@dataclass
class Storage:
    """What a full Summary adds to a snapshot: filesystem walks and network counters."""

    node_fs: dict[str, Any]  # the node's filesystem (pods' volumes and logs), as FsStats
    image_fs: dict[str, Any]  # where the writable layers are
    layers: dict[str, readings.Usage] = field(default_factory=dict)  # by container id
    volumes: dict[str, list[tuple[StatsVolume, readings.Usage | None, dict[str, Any] | None]]] = \
        field(default_factory=dict)  # by pod uid
    networks: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # by pod uid


def _fs_of(path: str, at: str) -> dict[str, Any] | None:
    try:
        return _fs(readings.filesystem(path), at)
    except OSError:
        return None


def _network(net_dev: Path, at: str, default: str) -> dict[str, Any] | None:
    """NetworkStats: every interface but the loopback, the ``default`` one's counters also at the top (as the
    kubelet does with eth0); None without any interface, or when the process is gone."""
    try:
        found = readings.interfaces(net_dev)
    except (OSError, ValueError):
        return None
    if not found:
        return None
    listed = [{"name": i.name, "rxBytes": i.rx_bytes, "rxErrors": i.rx_errors, "txBytes": i.tx_bytes,
               "txErrors": i.tx_errors} for i in found]
    out: dict[str, Any] = {"time": at}
    main = next((x for x in listed if x["name"] == default), None)
    if main is not None:
        out.update(main)
    out["interfaces"] = listed
    return out


def _ephemeral(containers: list[dict[str, Any]], volumes: list[readings.Usage], node_fs: dict[str, Any]
               ) -> dict[str, Any]:
    """The kubelet's pod ephemeral-storage: writable layers, logs and local ephemeral volumes, on the node's
    filesystem."""
    used = inodes = 0
    for c in containers:
        for key in ("rootfs", "logs"):
            part = c.get(key) or {}
            used += part.get("usedBytes", 0)
            inodes += part.get("inodesUsed", 0)
    used += sum(u.bytes for u in volumes)
    inodes += sum(u.inodes for u in volumes)
    return {**node_fs, "usedBytes": used, "inodesUsed": inodes}


def _memory(m: readings.Memory) -> dict[str, int]:
    return {"usageBytes": m.usage, "workingSetBytes": m.working_set, "rssBytes": m.rss,
            "pageFaults": m.page_faults, "majorPageFaults": m.major_page_faults}


def _fs(f: readings.Fs, at: str) -> dict[str, Any]:
    return {"time": at, "availableBytes": f.available, "capacityBytes": f.capacity, "usedBytes": f.used,
            "inodesFree": f.inodes_free, "inodes": f.inodes, "inodesUsed": f.inodes - f.inodes_free}


def _sum_cpu(cpus: list[dict[str, Any]], at: str) -> dict[str, Any]:
    out: dict[str, Any] = {"time": at, "usageCoreNanoSeconds": sum(c["usageCoreNanoSeconds"] for c in cpus)}
    if all("usageNanoCores" in c for c in cpus):  # a partial sum would understate the pod
        out["usageNanoCores"] = sum(c["usageNanoCores"] for c in cpus)
    return out


def _sum_memory(mems: list[dict[str, Any]], at: str) -> dict[str, Any]:
    keys = ("usageBytes", "workingSetBytes", "rssBytes", "pageFaults", "majorPageFaults")
    return {"time": at, **{k: sum(m[k] for m in mems) for k in keys}}
