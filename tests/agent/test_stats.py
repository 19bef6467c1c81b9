"""The kubelet's Summary API: ``/stats/summary`` on the agent, reached through ``nodes/NAME/proxy``.

A real `kubelite up` node runs a pod that spins, one that holds ~30 MB, one
that sleeps and one that writes known amounts to its root and its volumes;
kubectl reads the Summary through the API server as ``kubectl get --raw``
does, and the numbers are checked against what the containers do and against
the host's own /proc, statvfs and ``du``. The agent's port itself answers only
the API server's client certificate.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from kubelite.agent.streaming import readings, stats
from kubelite.agent.streaming.backend import StatsNode, StatsPod, StatsVolume
from kubelite.agent.streaming.stats import CpuSample, SummaryCollector, nano_cores
from kubelite.api.security.kubeconfig import build_kubeconfig, write_kubeconfig
from kubelite.api.security.pki import ensure_pki
from kubelite.errors import KubeliteError
from kubelite.runtime import cgroups
from tests.agent.nodecluster import NODE, NodeCluster

PODS = """
apiVersion: v1
kind: Pod
metadata: {name: busy}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: spin, image: busybox, command: ["sh", "-c", "while :; do :; done"]}
---
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: hold
    image: busybox
    command: ["sh", "-c", "x=$(head -c 30000000 /dev/zero | tr '\\\\0' a); echo held; while :; do sleep 3600; done"]
---
apiVersion: v1
kind: Pod
metadata: {name: idle}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: rest, image: busybox, command: ["sleep", "3600"]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: stats-cfg}
data: {greeting: hello}
---
apiVersion: v1
kind: Secret
metadata: {name: stats-sec}
stringData: {token: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: disk}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: write
    image: busybox
    command: ["sh", "-c", "head -c 3000000 /dev/zero > /scratch && head -c 2000000 /dev/zero > /data/f &&
      head -c 4000000 /dev/zero > /mem/f && echo written && exec sleep 3600"]
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: mem, mountPath: /mem}
    - {name: cfg, mountPath: /cfg}
    - {name: sec, mountPath: /sec}
  volumes:
  - {name: data, emptyDir: {}}
  - {name: mem, emptyDir: {medium: Memory}}
  - {name: cfg, configMap: {name: stats-cfg}}
  - {name: sec, secret: {secretName: stats-sec}}
"""
SUMMARY = f"/api/v1/nodes/{NODE}/proxy/stats/summary"
MB = 1 << 20
pytestmark = pytest.mark.root


def test_rate_from_two_samples() -> None:
    """usageNanoCores is CPU time over wall time between two samples: half a core, then none computable."""
    assert nano_cores(CpuSample(1_000_000_000, 0), CpuSample(1_500_000_000, 1_000_000_000)) == 500_000_000
    assert nano_cores(CpuSample(0, 0), CpuSample(4_000_000_000, 2_000_000_000)) == 2_000_000_000  # two cores
    assert nano_cores(CpuSample(5, 10), CpuSample(9, 10)) is None  # no time between them
    assert nano_cores(CpuSample(9, 10), CpuSample(5, 20)) is None  # the counter went back: another cgroup



def _files(d: Path, files: dict[str, str]) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)


def test_container_reading_v2_and_v1(tmp_path: Path) -> None:
    """Working set leaves out the inactive file cache; RSS and faults come from either version's memory.stat."""
    _files(tmp_path / "v2/pod/c", {
        "memory.current": str(50 * MB), "memory.max": "max", "cpu.stat": "usage_usec 2500\n",
        "memory.stat": f"anon {30 * MB}\ninactive_file {15 * MB}\npgfault 70\npgmajfault 3\n",
        "cgroup.procs": "7\n9\n", "pids.current": "2"})
    r = readings.container(cgroups.V2Manager("/pod/c", tmp_path / "v2"), "")
    assert (r.cpu_ns, r.processes, r.log_bytes) == (2_500_000, 2, 0)
    assert r.memory == readings.Memory(50 * MB, 35 * MB, 30 * MB, 70, 3, None)
    v1 = tmp_path / "v1"
    _files(v1 / "memory/pod/c", {
        "memory.usage_in_bytes": str(40 * MB), "memory.limit_in_bytes": str(64 * MB), "cgroup.procs": "5\n",
        "memory.stat": f"rss 1\ninactive_file 1\ntotal_rss {20 * MB}\ntotal_inactive_file {10 * MB}\n"
                       "total_pgfault 11\ntotal_pgmajfault 1\n"})
    _files(v1 / "cpuacct/pod/c", {"cpuacct.usage": "123", "cgroup.procs": "5\n"})
    log = tmp_path / "c.log"
    log.write_text("x" * 10)
    r = readings.container(cgroups.V1Manager("/pod/c", v1), str(log))
    assert (r.cpu_ns, r.processes, r.log_bytes) == (123, 1, 10)
    assert r.memory == readings.Memory(40 * MB, 30 * MB, 20 * MB, 11, 1, 64 * MB)
    with pytest.raises(KubeliteError):  # gone: not a container that reads as idle
        readings.container(cgroups.V2Manager("/pod/gone", tmp_path / "v2"), "")


def test_disk_usage_counts_like_du(tmp_path: Path) -> None:
    """Allocated bytes and inodes, the root included; a hard link once; a symlink's target not at all."""
    d = tmp_path / "vol"
    (d / "sub").mkdir(parents=True)
    (d / "sub/f").write_bytes(b"x" * 100_000)
    os.link(d / "sub/f", d / "hard")
    big = tmp_path / "outside"
    big.write_bytes(b"y" * 1_000_000)
    (d / "link").symlink_to(big)
    u = readings.disk_usage(str(d))
    assert u.inodes == 4  # vol, sub, f (= hard), link
    du = subprocess.run(["du", "-s", "-B1", str(d)], capture_output=True, text=True, check=True)
    assert u.bytes == int(du.stdout.split()[0])
    assert 100_000 <= u.bytes < 1_000_000
    with pytest.raises(OSError):
        readings.disk_usage(str(tmp_path / "missing"))


class _Volumes:
    """A StatsSource of one pod with one volume and no running container."""

    def __init__(self, d: Path) -> None:
        self.d = d

    def stats_node(self) -> StatsNode:
        return StatsNode("n", str(self.d), str(self.d), 0)

    def stats_pods(self) -> list[StatsPod]:
        return [StatsPod("ns", "p", "uid", "", (), (StatsVolume("v", str(self.d / "v"), True),))]


def test_a_walk_is_reused_for_a_while_then_redone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "v").mkdir()
    (tmp_path / "v/a").write_bytes(b"x" * 100_000)
    collector = SummaryCollector(_Volumes(tmp_path))

    def used() -> int:
        ((_, usage, _),) = collector.storage(collector.snapshot()).volumes["uid"]
        assert usage is not None
        return usage.bytes

    first = used()
    (tmp_path / "v/b").write_bytes(b"y" * 200_000)
    assert used() == first  # polled again at once: the last walk's result
    monkeypatch.setattr(stats, "USAGE_TTL", 0.0)
    assert used() >= first + 200_000  # once it is old enough, walked again


def test_interfaces_and_default_route(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net/dev").write_text(
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls"
        " carrier compressed\n"
        "    lo:    500       5    0    0    0     0          0         0      500       5    0    0    0     0"
        "       0          0\n"
        "  eth0: 123456     100    2    0    0     0          0         0    65432      90    1    0    0     0"
        "       0          0\n")
    assert readings.interfaces(tmp_path / "net/dev") == [readings.Interface("eth0", 123456, 2, 65432, 1)]
    (tmp_path / "net/route").write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "ens3\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        "ens4\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n")
    assert readings.default_interface(tmp_path) == "ens4"


def test_node_memory_as_the_kubelet_computes_it(tmp_path: Path) -> None:
    _files(tmp_path, {
        "meminfo": "MemTotal:       1000 kB\nMemFree:         100 kB\nInactive(file):  200 kB\nAnonPages:  300 kB\n",
        "vmstat": "pgfault 5\npgmajfault 1\n"})
    assert readings.node_memory(tmp_path) == readings.Memory(900 * 1024, 700 * 1024, 300 * 1024, 5, 1, 1000 * 1024)


@pytest.fixture(scope="module")
def node(cluster: NodeCluster) -> NodeCluster:
    cluster.apply(PODS)
    for name in ("busy", "hog", "idle", "disk"):
        cluster.wait_for(f"{name} running", lambda n=name: cluster.pod(n)["status"].get("phase") == "Running")
    cluster.wait_for("hog holds its memory", lambda: cluster.ok("logs", "hog") == "held\n", timeout=120)
    cluster.wait_for("disk has written", lambda: cluster.ok("logs", "disk") == "written\n", timeout=120)
    return cluster


def _summary(c: NodeCluster, query: str = "") -> Any:
    return json.loads(c.ok("get", "--raw", SUMMARY + query))


def _pod(summary: Any, name: str) -> Any:
    found = [p for p in summary["pods"] if p["podRef"]["name"] == name and p["podRef"]["namespace"] == "default"]
    assert len(found) == 1, f"pod {name} in {[p['podRef'] for p in summary['pods']]}"
    return found[0]


def _container(summary: Any, pod: str) -> Any:
    (c,) = _pod(summary, pod)["containers"]
    return c


def test_busy_container_cpu_grows(node: NodeCluster) -> None:
    first = _container(_summary(node), "busy")
    second = _container(_summary(node), "busy")
    assert first["name"] == "spin" and first["startTime"]
    assert second["cpu"]["usageCoreNanoSeconds"] > first["cpu"]["usageCoreNanoSeconds"] > 0
    assert second["cpu"]["usageNanoCores"] > 0
    idle = _container(_summary(node), "idle")
    assert idle["cpu"]["usageNanoCores"] < second["cpu"]["usageNanoCores"]


def test_memory_hog_has_the_larger_working_set(node: NodeCluster) -> None:
    s = _summary(node)
    hog, idle = _container(s, "hog")["memory"], _container(s, "idle")["memory"]
    assert hog["workingSetBytes"] > idle["workingSetBytes"] + 20 * MB
    assert hog["usageBytes"] >= hog["workingSetBytes"] and hog["rssBytes"] > 20 * MB  # the string is anonymous memory
    assert hog["pageFaults"] > idle["pageFaults"]
    assert "availableBytes" not in hog  # no limit: nothing to be available against


def test_pods_match_the_api_and_sum_their_containers(node: NodeCluster) -> None:
    s = _summary(node)
    busy = _pod(s, "busy")
    api = node.pod("busy")
    assert busy["podRef"] == {"name": "busy", "namespace": "default", "uid": api["metadata"]["uid"]}
    assert busy["startTime"] == api["status"]["startTime"]
    (c,) = busy["containers"]
    started = api["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
    assert c["startTime"] == started[:19] + "Z"  # whole seconds, as metav1.Time
    assert busy["memory"]["workingSetBytes"] == c["memory"]["workingSetBytes"]
    assert busy["cpu"]["usageCoreNanoSeconds"] == c["cpu"]["usageCoreNanoSeconds"]
    assert busy["process_stats"]["process_count"] >= 1
    assert c["logs"]["usedBytes"] == 0 and c["logs"]["capacityBytes"] > 0
    assert _container(s, "hog")["logs"]["usedBytes"] > 0  # its "held" line, in the CRI log format


def test_node_numbers_match_the_host(node: NodeCluster) -> None:
    s = _summary(node)["node"]
    assert s["nodeName"] == NODE and s["startTime"]
    meminfo = {line.split(":")[0]: int(line.split()[1]) * 1024
               for line in Path("/proc/meminfo").read_text().splitlines()}
    mem = s["memory"]
    assert mem["availableBytes"] + mem["workingSetBytes"] == meminfo["MemTotal"]
    assert mem["usageBytes"] >= mem["workingSetBytes"] > 0
    assert s["cpu"]["usageCoreNanoSeconds"] > 0 and s["cpu"]["usageNanoCores"] > 0
    st = os.statvfs(node.data_dir)
    fs = s["fs"]
    assert fs["capacityBytes"] == st.f_blocks * st.f_frsize and fs["inodes"] == st.f_files
    assert fs["usedBytes"] + fs["availableBytes"] <= fs["capacityBytes"]
    image_fs = s["runtime"]["imageFs"]
    root = os.statvfs(node.env["KUBELITE_ROOT"])
    assert image_fs["capacityBytes"] == root.f_blocks * root.f_frsize
    assert 0 < image_fs["usedBytes"] <= image_fs["capacityBytes"]  # busybox's bytes
    assert s["rlimit"]["maxpid"] == int(Path("/proc/sys/kernel/pid_max").read_text())
    assert s["rlimit"]["curproc"] > 0


def _volume_dir(node: NodeCluster, pod: str, plugin: str, volume: str) -> Path:
    uid = node.pod(pod)["metadata"]["uid"]
    return node.data_dir / "agent" / "pods" / uid / "volumes" / plugin / volume


def test_writable_layer_volumes_and_ephemeral_storage(node: NodeCluster) -> None:
    s = _summary(node)
    disk = _pod(s, "disk")
    (c,) = disk["containers"]
    rootfs = c["rootfs"]
    assert 3_000_000 <= rootfs["usedBytes"] < 3_000_000 + MB  # the file it wrote to its root
    assert rootfs["inodesUsed"] >= 2 and rootfs["capacityBytes"] == s["node"]["runtime"]["imageFs"]["capacityBytes"]
    assert _container(s, "idle")["rootfs"]["usedBytes"] < MB  # wrote nothing
    vols = {v["name"]: v for v in disk["volume"]}
    assert set(vols) == {"data", "mem", "cfg", "sec"}
    data_dir = _volume_dir(node, "disk", "kubernetes.io~empty-dir", "data")
    du = subprocess.run(["du", "-s", "-B1", str(data_dir)], capture_output=True, text=True, check=True)
    assert vols["data"]["usedBytes"] == int(du.stdout.split()[0]) >= 2_000_000
    assert vols["mem"]["usedBytes"] >= 4_000_000
    assert 0 < vols["cfg"]["usedBytes"] < MB and 0 < vols["sec"]["usedBytes"] < MB
    node_fs = os.statvfs(node.data_dir)
    assert vols["data"]["capacityBytes"] == node_fs.f_blocks * node_fs.f_frsize
    mem_fs = os.statvfs(_volume_dir(node, "disk", "kubernetes.io~empty-dir", "mem"))
    assert vols["mem"]["capacityBytes"] == mem_fs.f_blocks * mem_fs.f_frsize  # its own tmpfs
    assert vols["sec"]["capacityBytes"] != vols["data"]["capacityBytes"]  # a tmpfs too: never on the disk
    # Ephemeral storage: the writable layer, the log and the volumes on the node's disk; not the memory ones.
    eph = disk["ephemeral-storage"]
    local = ("data", "cfg")
    assert eph["usedBytes"] == rootfs["usedBytes"] + c["logs"]["usedBytes"] + sum(vols[v]["usedBytes"] for v in local)
    assert eph["inodesUsed"] == rootfs["inodesUsed"] + c["logs"]["inodesUsed"] + \
        sum(vols[v]["inodesUsed"] for v in local)
    assert eph["capacityBytes"] == node_fs.f_blocks * node_fs.f_frsize
    assert "volume" not in _pod(s, "idle")


def test_network_counters(node: NodeCluster) -> None:
    before = {i.name: i for i in readings.interfaces(Path("/proc/net/dev"))}
    net = _summary(node)["node"]["network"]
    listed = {i["name"]: i for i in net["interfaces"]}
    assert set(listed) == set(before) and "lo" not in listed
    for name, i in before.items():  # counters only grow
        assert listed[name]["rxBytes"] >= i.rx_bytes and listed[name]["txBytes"] >= i.tx_bytes
    default = readings.default_interface()
    if default:
        assert net["name"] == default and net["rxBytes"] == listed[default]["rxBytes"]
    # A pod's network namespace holds nothing but its loopback (pod networking is not there yet)
    assert "network" not in _pod(_summary(node), "idle")


def test_only_cpu_and_memory(node: NodeCluster) -> None:
    s = _summary(node, "?only_cpu_and_memory=true")
    assert {"fs", "runtime", "rlimit"}.isdisjoint(s["node"]) and {"cpu", "memory"} <= set(s["node"])
    busy = _pod(s, "busy")
    assert "process_stats" not in busy and "logs" not in busy["containers"][0]
    assert {"network"}.isdisjoint(s["node"]) and {"ephemeral-storage", "volume"}.isdisjoint(_pod(s, "disk"))
    assert "rootfs" not in busy["containers"][0]
    assert busy["containers"][0]["cpu"]["usageCoreNanoSeconds"] > 0
    r = node.kubectl("get", "--raw", SUMMARY + "?only_cpu_and_memory=maybe")
    assert r.returncode != 0 and "invalid value for only_cpu_and_memory" in r.stderr


def test_node_proxy_errors(node: NodeCluster) -> None:
    r = node.kubectl("get", "--raw", f"/api/v1/nodes/{NODE}/proxy/no/such/path")
    assert r.returncode != 0 and "NotFound" in r.stderr and "does not serve" in r.stderr, r.stderr
    r = node.kubectl("get", "--raw", "/api/v1/nodes/nowhere/proxy/stats/summary")
    assert r.returncode != 0 and 'nodes "nowhere" not found' in r.stderr, r.stderr
    node.apply("apiVersion: v1\nkind: Node\nmetadata: {name: ghost}\n")
    try:
        r = node.kubectl("get", "--raw", "/api/v1/nodes/ghost/proxy/stats/summary")
        assert r.returncode != 0 and "ServiceUnavailable" in r.stderr and "no kubelet endpoint" in r.stderr, r.stderr
    finally:
        node.ok("delete", "node", "ghost")
    assert node.ok("get", "--raw", f"/api/v1/nodes/{NODE}/proxy/healthz") == "ok"
    assert node.ok("get", "--raw", f"/api/v1/nodes/{NODE}/proxy/containerLogs/default/hog/hold?tailLines=1") == "held\n"


def test_node_proxy_is_for_admins(node: NodeCluster) -> None:
    """A node's own identity may read its Node, but not reach agents through the API server."""
    pki = ensure_pki(node.data_dir)
    user = "system:node:" + NODE
    config = build_kubeconfig(f"https://127.0.0.1:{node.port}", pki.ca_pem, user=user,
                              client_cert=pki.issue_client_cert(user, ("system:nodes",)))
    path = write_kubeconfig(node.base / "node-kubeconfig.yaml", config)
    as_node = [*node.argv, "--kubeconfig", str(path)]
    assert subprocess.run([*as_node, "get", "node", NODE], capture_output=True, timeout=60).returncode == 0
    r = subprocess.run([*as_node, "get", "--raw", SUMMARY], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "Forbidden" in r.stderr and "nodes/proxy" in r.stderr, r.stderr


def _agent(node: NodeCluster) -> str:
    status = node.json("get", "node", NODE)["status"]
    address = next(a["address"] for a in status["addresses"] if a["type"] == "InternalIP")
    return f"https://{address}:{status['daemonEndpoints']['kubeletEndpoint']['Port']}/stats/summary"


def _agent_get(node: NodeCluster, cert: tuple[bytes, bytes] | None) -> tuple[int, bytes]:
    """GET the agent's /stats/summary directly, presenting ``cert`` (or no certificate at all)."""
    ctx = ssl._create_unverified_context()  # the agent's serving certificate is self-signed
    if cert is not None:
        files = (node.base / "stats-client.crt", node.base / "stats-client.key")
        for f, pem in zip(files, cert, strict=True):
            f.write_bytes(pem)
        ctx.load_cert_chain(*files)
    try:
        with urllib.request.urlopen(_agent(node), context=ctx, timeout=30) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read()


def test_agent_port_answers_only_the_api_server(node: NodeCluster) -> None:
    pki = ensure_pki(node.data_dir)
    code, body = _agent_get(node, None)
    assert code == 401 and json.loads(body)["kind"] == "Status"
    assert _agent_get(node, pki.issue_client_cert("kubelite-admin", ("system:masters",)))[0] == 403
    code, body = _agent_get(node, pki.issue_client_cert("kube-apiserver-kubelet-client"))
    assert code == 200 and json.loads(body)["node"]["nodeName"] == NODE


def test_summary_is_valid_for_the_kubernetes_types(node: NodeCluster) -> None:
    """Field names as the kubelet's stats/v1alpha1 types spell them (what metrics-server decodes)."""
    s = _summary(node)
    assert set(s) == {"node", "pods"}
    assert {"nodeName", "startTime", "cpu", "memory", "fs", "runtime", "rlimit"} <= set(s["node"])
    pod = _pod(s, "idle")
    assert {"podRef", "startTime", "containers", "cpu", "memory", "process_stats", "ephemeral-storage"} <= set(pod)
    assert {"time", "availableBytes", "capacityBytes", "usedBytes", "inodesFree", "inodes", "inodesUsed"} \
        == set(pod["ephemeral-storage"]) == set(pod["containers"][0]["rootfs"])
    assert {"time", "interfaces"} <= set(s["node"]["network"])
    assert {"time", "usageBytes", "workingSetBytes", "rssBytes", "pageFaults", "majorPageFaults"} \
        <= set(pod["containers"][0]["memory"])


def _top(node: NodeCluster, *args: str) -> tuple[list[str], list[list[str]]]:
    head, *rows = [line.split() for line in node.ok("top", *args).splitlines()]
    return head, rows


def _cores(q: str) -> float:
    return int(q[:-1]) / 1000 if q.endswith("m") else float(q)


def _mib(q: str) -> int:
    assert q.endswith("Mi"), q
    return int(q[:-2])


def test_kubectl_top(node: NodeCluster) -> None:
    """`kubectl top` reads metrics.k8s.io, which the API server serves from the agents' Summary as metrics-server
    would: the spinning pod shows CPU, the hog its memory, the idle one neither."""
    head, rows = _top(node, "node")
    assert head[:2] == ["NAME", "CPU(cores)"] and [r[0] for r in rows] == [NODE]
    assert _cores(rows[0][1]) > 0.2 and _mib(rows[0][3]) > 30
    head, rows = _top(node, "pod")
    pods = {r[0]: (_cores(r[1]), _mib(r[2])) for r in rows}
    assert head == ["NAME", "CPU(cores)", "MEMORY(bytes)"] and {"busy", "hog", "idle"} <= set(pods)
    assert pods["busy"][0] > 0.2 > 0.05 > pods["idle"][0]
    assert pods["hog"][1] >= 20 > pods["idle"][1]
    head, rows = _top(node, "pod", "-A")
    assert head[0] == "NAMESPACE" and ["default", "busy"] in [r[:2] for r in rows]
    head, rows = _top(node, "pod", "busy", "--containers")
    assert head[:2] == ["POD", "NAME"] and [r[:2] for r in rows] == [["busy", "spin"]]
    raw = json.loads(node.ok("get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/hog"))
    assert raw["kind"] == "PodMetrics" and raw["metadata"]["name"] == "hog"
    assert raw["containers"][0]["name"] == "hold" and raw["containers"][0]["usage"]["cpu"].endswith("n")
    r = node.kubectl("top", "pod", "nope")
    assert r.returncode != 0 and 'podmetrics.metrics.k8s.io "default/nope" not found' in r.stderr, r.stderr
    r = node.kubectl("top", "node", "nope")
    assert r.returncode != 0 and 'nodemetrics.metrics.k8s.io "nope" not found' in r.stderr, r.stderr
