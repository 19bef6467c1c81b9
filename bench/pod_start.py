"""Pod start latency on a real `kubelite up` node: created -> all containers running, seen through a watch.

One `kubelite up` (API server, scheduler, controllers, the embedded agent) in
temporary directories. Pods without a node name are created through the API
(so the scheduler binds them, as for any user's pod); a watch opened before
the first create records, per pod, when its status first showed every
container running. Latency = that moment minus the moment this process sent
the create. Reported: one pod at a time on an idle node (``--single`` runs),
then a burst of ``--burst`` pods created concurrently, p50 and p99 of each.

The burst's creates go over connections the client opened beforehand. This
client speaks HTTP/1.1, one request per connection at a time, so fifty
concurrent creates need fifty connections; client-go multiplexes them over its
one HTTP/2 connection. Opening fifty TLS connections inside the measured
window would cost ~5 ms of CPU each (client and server, both on this machine),
a cost no Kubernetes client pays per pod. ``--cold-connections`` measures with
them anyway.

Memory per pod: the RSS of the `kubelite up` process (which is the agent, and
the API server beside it) with the burst running, minus its RSS before, per
pod; and the proportional set size (PSS) of the per-container supervisors
(shims, forked from the agent, so mostly shared pages), per pod.

The Kubernetes SLO is p99 <= 5 s for pod start (excluding image pulls); the
issue's aim is p99 under 1 s for the burst and under 5 MiB of agent memory per pod.

    .venv/bin/python bench/pod_start.py [--single 10] [--burst 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from api_bench import cpu_s, host_speed  # noqa: E402

from kubelite.api.client import APIClient, resource_path  # noqa: E402
from tests.agent.nodecluster import NodeCluster, start_node_cluster, stop_node_cluster  # noqa: E402

PODS = resource_path("v1", "pods", "default")


def pod(name: str) -> dict:  # type: ignore[type-arg]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "start"}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                {"name": "main", "image": "busybox", "command": ["sleep", "100000"]}]}}


def all_running(p: dict) -> bool:  # type: ignore[type-arg]
    statuses = (p.get("status") or {}).get("containerStatuses") or []
    want = len(p["spec"]["containers"])
    return len(statuses) == want and all("running" in (s.get("state") or {}) for s in statuses)


async def measure(client: APIClient, names: list[str], concurrent: bool) -> list[float]:
    seen: dict[str, float] = {}
    sent: dict[str, float] = {}
    listing = await client.list(PODS, labelSelector="bench=start")
    rv = listing["metadata"]["resourceVersion"]
    done = asyncio.Event()

    async def watch() -> None:
        async for _, p in client.watch(PODS, rv, labelSelector="bench=start", timeout_seconds=600):
            n = p["metadata"]["name"]
            if n in sent and n not in seen and all_running(p):
                seen[n] = time.monotonic()
                if len(seen) == len(names):
                    done.set()
                    return

    w = asyncio.create_task(watch())
    await asyncio.sleep(0.2)

    async def create(n: str) -> None:
        sent[n] = time.monotonic()
        await client.create(PODS, pod(n))

    if concurrent:
        await asyncio.gather(*(create(n) for n in names))
    else:
        for n in names:
            await create(n)
            while n not in seen:
                await asyncio.sleep(0.005)
    await asyncio.wait_for(done.wait(), 300)
    w.cancel()
    return [seen[n] - sent[n] for n in names]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def node_cpu_s(c: NodeCluster) -> tuple[float, float]:
    """CPU of the node's own processes: `kubelite up` (its API server too) and its helpers; the shims and the
    containers they started (whose time until their exec is the runtime's init).

    The shims and containers are read to the nanosecond (schedstat): each ran a few milliseconds, and
    /proc/<pid>/stat rounds each one's time down to whole clock ticks (10 ms), which made their sum zero.
    """
    shims = set(shim_pids(c))
    containers = {k for p in shims for k in children(p)}
    return (cpu_s(c.proc.pid) + sum(cpu_s(p) for p in set(children(c.proc.pid)) - shims),
            sum(run_s(p) for p in shims | containers))


def run_s(pid: int) -> float:
    """Time on a CPU of all of a process's threads, in seconds, to the nanosecond (not its children's)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(task.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def shim_pids(c: NodeCluster) -> list[int]:
    """The supervisors: processes named kubelite-shim among those whose command line names the cluster's dirs."""
    out = subprocess.run(["pgrep", "-f", str(c.base)], capture_output=True, text=True).stdout.split()
    pids = []
    for p in out:
        try:
            if Path(f"/proc/{p}/comm").read_text().strip() == "kubelite-shim":
                pids.append(int(p))
        except OSError:
            continue
    return pids


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


async def run(c: NodeCluster, single: int, burst: int, perf_out: str | None = None, settle: float = 0,
              cold: bool = False) -> None:
    client = APIClient.from_kubeconfig(c.kubeconfig)
    try:
        warm = await measure(client, ["warmup"], False)
        print(f"warm-up pod: {warm[0] * 1000:.0f} ms (first image unpack)")
        await client.delete(f"{PODS}/warmup")
        lat = await measure(client, [f"single-{i}" for i in range(single)], False)
        print(f"one pod at a time (n={single}): p50 {statistics.median(lat) * 1000:.0f} ms, "
              f"p99 {pct(lat, 0.99) * 1000:.0f} ms")
        for i in range(single):
            await client.delete(f"{PODS}/single-{i}")
        while (await client.list(PODS, labelSelector="bench=start"))["items"]:
            await asyncio.sleep(0.2)
        await asyncio.sleep(settle)
        if not cold:  # one open connection per create to come (see the module's doc)
            await asyncio.gather(*(client.get("/version") for _ in range(burst)))
        speed = host_speed()  # the node idle, just before the burst
        rss0 = rss_kib(c.proc.pid)
        perf = None
        if perf_out:  # the whole machine, call graphs, for the burst alone
            perf = subprocess.Popen(["perf", "record", "-a", "-g", "-F", "999", "-o", perf_out],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            await asyncio.sleep(0.5)
        cpu0 = node_cpu_s(c)
        lat = await measure(client, [f"burst-{i}" for i in range(burst)], True)
        cpu1 = node_cpu_s(c)
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        print(f"burst of {burst}: p50 {statistics.median(lat) * 1000:.0f} ms, p99 {pct(lat, 0.99) * 1000:.0f} ms, "
              f"last {max(lat) * 1000:.0f} ms; node CPU per pod: {(cpu1[0] - cpu0[0]) / burst * 1000:.0f} ms "
              f"in `kubelite up` and its helpers, {(cpu1[1] - cpu0[1]) / burst * 1000:.0f} ms in the shims and "
              f"their containers' init "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores); {speed}")
        await asyncio.sleep(10)
        cpu2 = node_cpu_s(c)
        print(f"idle with {burst} pods running: node CPU {(sum(cpu2) - sum(cpu1)) / 10 * 1000:.0f} ms per second")
        rss1 = rss_kib(c.proc.pid)
        shims = shim_pids(c)
        shim_pss = sum(pss_kib(p) for p in shims)
        helpers = [p for p in children(c.proc.pid) if p not in shims]
        helper_pss = sum(pss_kib(p) for p in helpers)
        print(f"agent process RSS: {rss0 / 1024:.1f} MiB idle -> {rss1 / 1024:.1f} MiB with {burst} pods = "
              f"{(rss1 - rss0) / burst / 1024:.2f} MiB per pod; supervisors: {len(shims)} processes, "
              f"PSS {shim_pss / len(shims) / 1024 if shims else 0:.2f} MiB each; helper processes of the agent "
              f"(the shims' zygote): {len(helpers)}, PSS {helper_pss / 1024:.1f} MiB")
    finally:
        await client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--single", type=int, default=10)
    ap.add_argument("--burst", type=int, default=50)
    ap.add_argument("--perf", metavar="FILE", help="`perf record -a -g` the burst into FILE")
    ap.add_argument("--cold-connections", action="store_true",
                    help="open the burst's connections inside the measured window")
    ap.add_argument("--settle", type=float, default=0, metavar="SECONDS",
                    help="wait this long between the single pods' deletion and the burst")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="kubelite-podbench-"))
    c = start_node_cluster(base)
    try:
        asyncio.run(run(c, args.single, args.burst, args.perf, args.settle, args.cold_connections))
    finally:
        stop_node_cluster(c)
        shutil.rmtree(base, ignore_errors=True)



if __name__ == "__main__":
    main()
