"""Scheduler benchmark: N simulated nodes, P pending pods, a real API server; pods bound per second.

In the spirit of kwok and kube-scheduler's scheduler_perf: Node objects (with
capacity, allocatable, a Ready condition, zone labels) and their Leases in
``kube-node-lease`` are created through the API and the Leases renewed by a
load-generator subprocess (a kubelet's 10 s cadence by default), so the API
server carries a live cluster's heartbeat traffic; no container runs. The API
server is a subprocess (``APIServer`` alone, without the server's own
controllers and scheduler); the scheduler runs in this process, as
kube-scheduler is its own process.

Two figures. First the scheduling cycle alone, without the API: the same
nodes and pods fed straight into the scheduler's cache and profile, each pod
scheduled and assumed in turn, pods per second of this process's CPU time
(other work on the machine does not count against it). Then end to end: all
pods are created first (pending, nobody schedules them), then the
scheduler starts; the figure is pods bound / seconds from the scheduler's start
(its initial list of every node and pod included) until its informer has seen
every pod bound. Binding goes through ``pods/binding``, so the API server's write
path is part of it. Each pod also gets its Scheduled Event, as in Kubernetes, but
the scheduler's recorder holds events back while many bindings are in flight (as
client-go's broadcaster, they never delay a cycle): most of them are written after
the last binding, outside the measured window, and the run says how many.
The CPU time this process used meanwhile is printed too: on a machine shared
with other work, pods per CPU-second of the scheduler process is the figure
that does not depend on how much of a core it was given.

    .venv/bin/python bench/scheduler_bench.py [--nodes 1000] [--pods 10000] [--quick] [--cycle-only]
        [--lease-interval 10] [--no-events] [--profile] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from api_bench import Server, cpu_s, host_speed  # noqa: E402

from kubelite import gcpolicy  # noqa: E402
from kubelite.api.client import APIClient, resource_path  # noqa: E402
from kubelite.cli import eventloop  # noqa: E402
from kubelite.errors import AlreadyExists  # noqa: E402
from kubelite.scheduler import Scheduler  # noqa: E402

ZONES = 10


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node(name: str, i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "type": "kwok",
                                                  "topology.kubernetes.io/zone": f"zone-{i % ZONES}"}},
            "spec": {}}


def node_status() -> dict[str, Any]:
    alloc = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    t = now()[:19] + "Z"
    return {"status": {"capacity": alloc, "allocatable": alloc,
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kwok-style simulated node", "lastHeartbeatTime": t,
                                       "lastTransitionTime": t}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0", "architecture": "amd64", "operatingSystem": "linux"}}}


def lease(name: str) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now()}}


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}


def cycle_only(nodes: int, pods: int) -> float:
    """Pods per CPU-second of the scheduling cycle itself: filter, score, pick, assume; no I/O."""
    import dataclasses

    from kubelite.scheduler.cache import Cache
    from kubelite.scheduler.nodeinfo import PodInfo
    from kubelite.scheduler.registry import DEFAULT_PROFILE, build_profile

    cache = Cache()
    for i in range(nodes):
        n = node(f"kwok-node-{i}", i)
        n.update(node_status())
        cache.set_node(n)
    profile = build_profile(DEFAULT_PROFILE, cache, None)
    infos = []
    for i in range(pods):
        p = pod(f"pod-{i}")
        p["metadata"]["namespace"] = "bench"
        infos.append(PodInfo.of(p))
    t0 = time.process_time()
    for pi in infos:
        res = profile.schedule(pi)
        assert res.node, res.message
        cache.assume(dataclasses.replace(pi, pod=dict(pi.pod, spec={**pi.pod["spec"], "nodeName": res.node})),
                     res.node)
    return pods / (time.process_time() - t0)


async def bounded(n: int, total: int, work: Callable[[int], Awaitable[None]]) -> float:
    """Run ``work(i)`` for i in range(total), ``n`` at a time; the seconds it took."""
    t0 = time.perf_counter()
    it = iter(range(total))

    async def worker() -> None:
        for i in it:
            await work(i)
    await asyncio.gather(*(worker() for _ in range(n)))
    return time.perf_counter() - t0


async def populate(client: APIClient, nodes: int, pods: int) -> None:
    async def make_node(i: int) -> None:
        name = f"kwok-node-{i}"
        await client.create("/api/v1/nodes", node(name, i))
        await client.patch(f"/api/v1/nodes/{name}/status", node_status())
        await client.create(resource_path("coordination.k8s.io/v1", "leases", "kube-node-lease"), lease(name))

    for ns in ("kube-node-lease", "bench"):
        try:
            await client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": ns}})
        except AlreadyExists:
            pass
    dt = await bounded(32, nodes, make_node)
    print(f"  {nodes} nodes (+ status, + lease) in {dt:.1f} s", flush=True)

    async def make_pod(i: int) -> None:
        await client.create(resource_path("v1", "pods", "bench"), pod(f"pod-{i}"))
    dt = await bounded(32, pods, make_pod)
    print(f"  {pods} pending pods in {dt:.1f} s ({pods / dt:.0f} creates/s)", flush=True)


class LeaseConnection:
    """One keep-alive HTTPS connection speaking just enough HTTP/1.1 for Lease GETs and PUTs.

    The load generator stands for kubelets on other machines (kwok does it in Go). With aiohttp's client
    it cost ~0.7 ms of this machine's CPU per renewal, a third of a core at 5,000 nodes taken from the API
    server and the scheduler it is there to load; a bare request over uvloop's TLS costs a fraction."""

    def __init__(self, host: str, port: int, ssl_context: Any, token: str | None) -> None:
        self.host, self.port, self.ssl = host, port, ssl_context
        self.auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def reset(self) -> None:
        """After an error: close the connection; the next request opens a new one."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, ssl=self.ssl)
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: kwok-loadgen\r\n{self.auth}"
                f"Accept: application/json\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = None
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError(f"no Content-Length in the answer to {method} {path}: {status_line!r}")
        return int(status_line.split()[1]), orjson.loads(await self.reader.readexactly(length))


async def renew_leases(kubeconfig: str, nodes: int, interval: float) -> None:
    """The load generator: renew every node's Lease once per ``interval``, spread evenly over it.

    As the kubelet (and kwok) do: an update (PUT) of the Lease last seen with a new ``renewTime``, and a
    fresh GET only after a conflict. Up to 64 renewals in flight, each on a connection of its own."""
    client = APIClient.from_kubeconfig(kubeconfig, user_agent="kwok-loadgen")
    url = urlsplit(client.server)
    idle = [LeaseConnection(url.hostname or "127.0.0.1", url.port or 443, client.ssl_context, client.token)
            for _ in range(64)]
    step = interval / max(nodes, 1)
    seen: dict[str, dict[str, Any]] = {}
    renewed, skipped = [0], [0]

    async def report() -> None:  # on stderr every 10 s: is the generator keeping up?
        while True:
            await asyncio.sleep(10)
            print(f"# load generator: {renewed[0] / 10:.0f} Lease renewals/s, {skipped[0] / 10:.0f}/s skipped "
                  "(all 64 connections busy)", file=sys.stderr, flush=True)
            renewed[0] = skipped[0] = 0
    reporter = asyncio.ensure_future(report())  # noqa: F841 - runs until the process is terminated

    async def renew(path: str, conn: LeaseConnection) -> None:
        try:
            for _ in range(2):
                current = seen.get(path)
                if current is None:
                    _, current = await conn.request("GET", path)
                body = orjson.dumps({**current, "spec": {**current["spec"], "renewTime": now()}})
                status, answer = await conn.request("PUT", path, body)
                if status == 200:
                    seen[path] = answer
                    renewed[0] += 1
                    return
                seen.pop(path, None)  # a conflict: read it again
        except (OSError, asyncio.IncompleteReadError, RuntimeError):
            conn.reset()
        finally:
            idle.append(conn)
    next_at = time.monotonic()
    i = 0
    pending: set[asyncio.Task[Any]] = set()
    while True:
        next_at += step
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        path = resource_path("coordination.k8s.io/v1", "leases", "kube-node-lease", f"kwok-node-{i % nodes}")
        if idle:
            t = asyncio.ensure_future(renew(path, idle.pop()))
            pending.add(t)
            t.add_done_callback(pending.discard)
        else:
            skipped[0] += 1
        i += 1


def idle_s() -> float:
    """Idle CPU-seconds of the whole machine so far (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")


async def measure(client: APIClient, pods: int, profile: bool, events: bool = True, server_pid: int = 0,
                  loadgen_pid: int = 0) -> float:
    gcpolicy.for_long_running_process()  # as in `kubelite server`, which hosts the scheduler
    s = Scheduler(client, record_scheduled_events=events)
    bound: set[str] = set()
    done = asyncio.Event()

    def on_pod(etype: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if etype != "DELETED" and (obj.get("spec") or {}).get("nodeName"):
            bound.add(obj["metadata"]["name"])
            if len(bound) >= pods:
                done.set()
    s.pods.add_handler(on_pod)
    prof = cProfile.Profile() if profile else None
    if prof:
        prof.enable()
    t0, cpu0, server0 = time.perf_counter(), time.process_time(), cpu_s(server_pid)
    loadgen0, idle0 = cpu_s(loadgen_pid) if loadgen_pid else 0.0, idle_s()
    await s.start()
    t_sync = time.perf_counter() - t0
    t_decided = 0.0
    while not done.is_set():
        if not t_decided and s.assumed >= pods:
            t_decided = time.perf_counter() - t0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 0.05)
    dt = time.perf_counter() - t0
    queued = s.recorder.queued
    print(f"  every pod placed (assumed, binding sent) after {t_decided or dt:.1f} s; Scheduled events still "
          f"queued when the last pod was bound: {queued} (written after the measurement)", flush=True)
    if prof:
        prof.disable()
    cpu, server_cpu = time.process_time() - cpu0, cpu_s(server_pid) - server0
    loadgen_cpu = cpu_s(loadgen_pid) - loadgen0 if loadgen_pid else 0.0
    print(f"  informers synced in {t_sync:.1f} s; {len(bound)} pods bound in {dt:.1f} s; this process used "
          f"{cpu:.1f} s of CPU meanwhile ({pods / cpu:.0f} pods per CPU-second: lists, watches, cycles, "
          f"bindings and events), the API server {server_cpu:.1f} s, the Lease load generator "
          f"{loadgen_cpu:.1f} s; the machine was idle {idle_s() - idle0:.1f} of {dt * (os.cpu_count() or 1):.1f} "
          f"CPU-seconds", flush=True)
    # scheduler_perf starts its scheduler on an empty cluster and samples bindings per second while pods
    # arrive, so no initial list is in its figure; this one is the nearest to it
    print(f"  after the informers synced: {pods / (dt - t_sync):.0f} pods/s (scheduler_perf's way: its scheduler "
          f"has no initial list to read)", flush=True)
    await s.stop()
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    return pods / dt


async def run(args: argparse.Namespace) -> None:
    rate = cycle_only(args.nodes, args.pods)
    print(f"scheduling cycle alone: {rate:.0f} pods/s of CPU ({args.pods} pods on {args.nodes} nodes)", flush=True)
    if args.cycle_only:
        return
    rates = [await end_to_end(args) for _ in range(args.runs)]
    if len(rates) > 1:
        print(f"median end to end over {len(rates)} runs: {statistics.median(rates):.0f} pods/s "
              f"(each: {', '.join(f'{r:.0f}' for r in rates)})", flush=True)


async def end_to_end(args: argparse.Namespace) -> float:
    """One end-to-end run on a fresh API server; its pods per second."""
    speed = host_speed()  # before anything of the run starts, on an idle machine
    with tempfile.TemporaryDirectory(prefix="sched-bench-") as tmp:
        data = Path(tmp) / "data"
        server = Server(data, f"sqlite://{data.resolve()}/state.db")
        loadgen: subprocess.Popen[bytes] | None = None
        client = APIClient.from_kubeconfig(data / "kubeconfig.yaml", user_agent="kube-scheduler")
        try:
            print(f"{args.nodes} nodes, {args.pods} pods", flush=True)
            await populate(client, args.nodes, args.pods)
            if args.lease_interval > 0:
                loadgen = subprocess.Popen([sys.executable, __file__, "--loadgen", str(data / "kubeconfig.yaml"),
                                            "--nodes", str(args.nodes), "--lease-interval", str(args.lease_interval)],
                                           env=dict(os.environ, PYTHONPATH=str(REPO)))
            rate = await measure(client, args.pods, args.profile, not args.no_events, server.proc.pid,
                                 loadgen.pid if loadgen is not None else 0)
            print(f"end to end: {rate:.0f} pods/s ({args.pods} pods on {args.nodes} nodes); {speed}", flush=True)
            return rate
        finally:
            if loadgen is not None:
                loadgen.terminate()
                loadgen.wait()
            await client.close()
            server.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--pods", type=int, default=10000)
    p.add_argument("--quick", action="store_true", help="100 nodes, 1000 pods")
    p.add_argument("--lease-interval", type=float, default=10.0,
                   help="seconds between renewals of each node's Lease (0: none)")
    p.add_argument("--no-events", action="store_true", help="no Scheduled events (bindings only)")
    p.add_argument("--cycle-only", action="store_true", help="only the scheduling cycle, no API server")
    p.add_argument("--profile", action="store_true", help="cProfile this process while it schedules")
    p.add_argument("--runs", type=int, default=1,
                   help="end-to-end runs, each on a fresh server, and their median (this host's speed drifts)")
    p.add_argument("--loadgen", metavar="KUBECONFIG", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.loadgen:
        eventloop.run(renew_leases(args.loadgen, args.nodes, args.lease_interval))
        return
    if args.quick:
        args.nodes, args.pods = 100, 1000
    eventloop.run(run(args))


if __name__ == "__main__":
    main()
