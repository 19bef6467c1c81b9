"""Probes and lifecycle hooks on a real node: readiness, liveness, startup; exec, HTTP and TCP; postStart and preStop.

The probed state is a file in a hostPath volume the test controls, so each
transition happens when the test makes it happen (no race with a sleep in the
container), and the verdicts are read back as a user sees them: the Ready
condition, restartCount, and the kubelet's events.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.agent.nodecluster import NODE, NodeCluster

pytestmark = pytest.mark.root


@pytest.fixture
def share(tmp_path: Path) -> Path:
    d = tmp_path / "share"
    d.mkdir()
    os.chmod(d, 0o777)
    return d


def manifest(name: str, command: str, share: Path, probes: str, restart: str = "Always") -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  nodeName: {NODE}\n"
            f"  restartPolicy: {restart}\n  terminationGracePeriodSeconds: 5\n"
            f"  containers:\n  - name: main\n    image: busybox\n    command: [sh, -c, {command!r}]\n"
            f"    volumeMounts: [{{name: share, mountPath: /share}}]\n{probes}"
            f"  volumes:\n  - name: share\n    hostPath: {{path: {share}}}\n")


def ready(c: NodeCluster, name: str) -> str:
    conds = {x["type"]: x["status"] for x in c.pod(name)["status"].get("conditions") or []}
    return str(conds.get("Ready"))


def events(c: NodeCluster, name: str) -> str:
    return c.ok("get", "events", "--field-selector", f"involvedObject.name={name}")


def test_readiness_follows_an_exec_probe(cluster: NodeCluster, share: Path) -> None:
    probes = ("    readinessProbe:\n      exec: {command: [test, -f, /share/ready]}\n"
              "      periodSeconds: 1\n      failureThreshold: 1\n")
    cluster.apply(manifest("readiness", "sleep 100000", share, probes))
    cluster.wait_phase("readiness", "Running")
    assert ready(cluster, "readiness") == "False"
    (share / "ready").touch()
    cluster.wait_for("ready", lambda: ready(cluster, "readiness") == "True")
    (share / "ready").unlink()
    cluster.wait_for("not ready again", lambda: ready(cluster, "readiness") == "False")
    assert cluster.pod("readiness")["status"]["containerStatuses"][0]["restartCount"] == 0
    assert "Readiness probe failed" in events(cluster, "readiness")
    cluster.ok("delete", "pod", "readiness")


def test_a_failing_http_liveness_probe_restarts_the_container(cluster: NodeCluster, share: Path) -> None:
    (share / "healthz").write_text("ok\n")
    probes = ("    livenessProbe:\n      httpGet: {path: /healthz, port: 8080}\n"
              "      periodSeconds: 1\n      failureThreshold: 2\n")
    cluster.apply(manifest("liveness", "exec httpd -f -p 8080 -h /share", share, probes))
    cluster.wait_running_ready("liveness")
    (share / "healthz").unlink()

    def restarted() -> object:
        cs = cluster.pod("liveness")["status"]["containerStatuses"][0]
        return cs["restartCount"] >= 1 and cs
    cluster.wait_for("a restart", restarted, timeout=60)
    ev = events(cluster, "liveness")
    assert "Liveness probe failed: HTTP probe failed with statuscode: 404" in ev
    assert "failed liveness probe, will be restarted" in ev
    cluster.ok("delete", "pod", "liveness")


def test_a_tcp_startup_probe_gates_readiness(cluster: NodeCluster, share: Path) -> None:
    probes = ("    startupProbe:\n      tcpSocket: {port: 8080}\n      periodSeconds: 1\n      failureThreshold: 60\n")
    cluster.apply(manifest("startup", "while [ ! -f /share/go ]; do sleep 0.2; done; exec httpd -f -p 8080",
                           share, probes))
    cluster.wait_phase("startup", "Running")
    cs = cluster.pod("startup")["status"]["containerStatuses"][0]
    assert cs["started"] is False and cs["ready"] is False
    assert "connection refused" in events(cluster, "startup")
    (share / "go").touch()
    cluster.wait_running_ready("startup")
    assert cluster.pod("startup")["status"]["containerStatuses"][0]["started"] is True
    cluster.ok("delete", "pod", "startup")


def test_post_start_and_pre_stop_hooks(cluster: NodeCluster, share: Path) -> None:
    hooks = ("    lifecycle:\n      postStart:\n        exec: {command: [sh, -c, 'echo started > /share/post']}\n"
             "      preStop:\n        exec: {command: [sh, -c, 'echo stopping > /share/pre']}\n")
    cluster.apply(manifest("hooks", "trap 'echo term >> /share/pre; exit 0' TERM; "
                           "while true; do sleep 0.1; done", share, hooks))
    cluster.wait_running_ready("hooks")
    assert (share / "post").read_text() == "started\n"
    cluster.ok("delete", "pod", "hooks")
    assert (share / "pre").read_text() == "stopping\nterm\n"
