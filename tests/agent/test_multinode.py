"""Several nodes: `kubelite server` plus two `kubelite agent` processes joined with the node token.

The whole chain as a user meets it: the agents join with the token and the CA
they fetch, the scheduler spreads a Deployment's pods over both nodes, the
agents run them, and when one agent stops the node lifecycle controller marks
its node NotReady, evicts its pods and the ReplicaSet replaces them on the
other node. The server runs with a short node grace period and toleration, as
`kubelite server` allows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import REPO, Cluster, free_port, start_cluster, stop_cluster

pytestmark = pytest.mark.root


@dataclass
class AgentProc:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path


@dataclass
class Nodes:
    cluster: Cluster
    env: dict[str, str]
    base: Path
    agents: dict[str, AgentProc]

    def start_agent(self, name: str) -> AgentProc:
        token_file = self.cluster.data_dir / "node-token"
        wait_for("the node token", token_file.exists, 30)
        token = token_file.read_text().strip()
        log = self.base / f"{name}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "kubelite.cli.agent", "--server", f"https://127.0.0.1:{self.cluster.port}",
             "--token", token, "--node-name", name, "--data-dir", str(self.base / name), "--node-ip", "127.0.0.1",
             "--port", str(free_port())],
            stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=self.env)  # noqa: SIM115
        a = AgentProc(name, proc, log)
        self.agents[name] = a
        wait_for(f"node {name} Ready", lambda: node_ready(self.cluster, name), 60, a)
        return a

    def stop_agent(self, name: str) -> None:
        a = self.agents.pop(name)
        a.proc.send_signal(signal.SIGTERM)
        assert a.proc.wait(timeout=30) == 0, a.log.read_text()[-3000:]


def kjson(c: Cluster, *args: str) -> Any:
    return json.loads(c.ok(*args, "-o", "json"))


def node_ready(c: Cluster, name: str) -> bool:
    r = c.kubectl("get", "node", name, "-o", "json")
    if r.returncode != 0:
        return False
    # the agent registers its Node first and reports its status just after: no status yet is not Ready
    conds = {x["type"]: x["status"] for x in (json.loads(r.stdout).get("status") or {}).get("conditions") or []}
    return conds.get("Ready") == "True"


def wait_for(what: str, pred: Any, timeout: float = 60, agent: AgentProc | None = None) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(0.25)
    extra = agent.log.read_text()[-3000:] if agent is not None else ""
    raise AssertionError(f"timed out waiting for {what}: {last!r}\n{extra}")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    base = tmp_path_factory.mktemp("multinode")
    c = start_cluster(base / "server", ("--node-monitor-grace-period", "4", "--default-toleration-seconds", "2"),
                      control_plane=True)
    env = dict(os.environ, PYTHONPATH=str(REPO), KUBELITE_ROOT=str(base / "root"), KUBELITE_STATE=str(base / "state"))
    n = Nodes(c, env, base, {})
    try:
        n.start_agent("node-1")
        n.start_agent("node-2")
        yield n
    finally:
        c.kubectl("delete", "deployments,pods", "--all", "--wait=true", "--grace-period=1", timeout=120)
        sandboxes = base / "state" / "sandboxes"
        try:
            wait_for("sandboxes removed", lambda: not sandboxes.is_dir() or not any(sandboxes.iterdir()), 60)
        finally:
            for name in list(n.agents):
                n.stop_agent(name)
            stop_cluster(c)
    mounts = [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(base) in line]
    assert not mounts, mounts


def running_pods(c: Cluster, selector: str) -> list[dict[str, Any]]:
    pods = kjson(c, "get", "pods", "-l", selector)["items"]
    return [p for p in pods if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
            and all("running" in s["state"] for s in p["status"].get("containerStatuses") or [{"state": {}}])]


def test_a_deployment_spreads_over_nodes_and_moves_off_a_dead_one(nodes: Nodes) -> None:
    c = nodes.cluster
    c.ok("create", "deployment", "web", "--image=busybox", "--replicas=4", "--", "sleep", "100000")
    pods = wait_for("4 running pods", lambda: len(p := running_pods(c, "app=web")) == 4 and p, 90)
    where = {p["spec"]["nodeName"] for p in pods}
    assert where == {"node-1", "node-2"}, where
    c.ok("rollout", "status", "deployment/web", "--timeout=60s")

    # A deleted pod is replaced.
    victim = pods[0]["metadata"]["name"]
    c.ok("delete", "pod", victim, "--grace-period=1")  # sleep as PID 1 ignores SIGTERM: the grace runs out
    wait_for("replacement", lambda: len(p := running_pods(c, "app=web")) == 4
             and victim not in {x["metadata"]["name"] for x in p}, 60)

    # node-2's agent stops: its node goes NotReady, its pods are evicted and come back on node-1.
    nodes.stop_agent("node-2")
    wait_for("node-2 NotReady", lambda: not node_ready(c, "node-2"), 60)
    taints = kjson(c, "get", "node", "node-2")["spec"].get("taints") or []
    assert any(t["key"].startswith("node.kubernetes.io/") for t in taints), taints
    pods = wait_for("all pods on node-1", lambda: len(p := running_pods(c, "app=web")) == 4
                    and {x["spec"]["nodeName"] for x in p} == {"node-1"} and p, 120)
    # node-2 comes back and cleans up the containers of the pods it lost while it was down.
    nodes.start_agent("node-2")
    state = nodes.base / "state" / "sandboxes"
    wait_for("node-2's old sandboxes gone",
             lambda: {d.name for d in state.iterdir()} <= {p["metadata"]["uid"] for p in pods}, 60)
