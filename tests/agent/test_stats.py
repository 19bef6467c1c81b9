"""The kubelet's Summary API: ``/stats/summary`` on the agent, reached through ``nodes/NAME/proxy``.

A real `kubelite up` node runs a pod that spins, one that holds ~30 MB and
one that sleeps; kubectl reads the Summary through the API server as
``kubectl get --raw`` does, and the numbers are checked against what the
containers do and against the host's own /proc and statvfs. The agent's
port itself answers only the API server's client certificate.
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

from kubelite.agent.streaming import readings
from kubelite.agent.streaming.stats import CpuSample, nano_cores
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


def test_node_memory_as_the_kubelet_computes_it(tmp_path: Path) -> None:
    _files(tmp_path, {
        "meminfo": "MemTotal:       1000 kB\nMemFree:         100 kB\nInactive(file):  200 kB\nAnonPages:  300 kB\n",
        "vmstat": "pgfault 5\npgmajfault 1\n"})
    assert readings.node_memory(tmp_path) == readings.Memory(900 * 1024, 700 * 1024, 300 * 1024, 5, 1, 1000 * 1024)


@pytest.fixture(scope="module")
def node(cluster: NodeCluster) -> NodeCluster:
    cluster.apply(PODS)
    for name in ("busy", "hog", "idle"):
        cluster.wait_for(f"{name} running", lambda n=name: cluster.pod(n)["status"].get("phase") == "Running")
    cluster.wait_for("hog holds its memory", lambda: cluster.ok("logs", "hog") == "held\n", timeout=120)
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


def test_only_cpu_and_memory(node: NodeCluster) -> None:
    s = _summary(node, "?only_cpu_and_memory=true")
    assert {"fs", "runtime", "rlimit"}.isdisjoint(s["node"]) and {"cpu", "memory"} <= set(s["node"])
    busy = _pod(s, "busy")
    assert "process_stats" not in busy and "logs" not in busy["containers"][0]
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
    assert {"podRef", "startTime", "containers", "cpu", "memory", "process_stats"} <= set(pod)
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
