"""Streaming against pods the real agent runs (`kubelite up`): the agent's pod lookup behind the same server.

The rest of the streaming tests use a fixed table of containers; this module
checks the path users take: a Pod scheduled and started by the agent, reached
by name through the API server.
"""

from __future__ import annotations

import os
import re
import subprocess
import urllib.request

import pytest

from tests.agent.nodecluster import NodeCluster

pytestmark = pytest.mark.root

POD = """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "echo started; mkdir -p /www; echo pong > /www/index.html; exec httpd -f -p 8080 -h /www"]
  - name: crash
    image: busybox
    command: ["sh", "-c", "echo run $(cat /proc/sys/kernel/random/uuid); exit 1"]
"""
SPDY = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false", "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}


@pytest.fixture(scope="module")
def web(cluster: NodeCluster) -> NodeCluster:
    """The module's node (conftest's ``cluster``, checked for leftovers) running the pod ``web``."""
    cluster.apply(POD)
    cluster.wait_for("web running", lambda: cluster.pod("web")["status"].get("phase") == "Running")
    return cluster


def _run(c: NodeCluster, *args: str, env: dict[str, str] | None = None, input: str | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*c.argv, *args], input=input, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("env", [{}, SPDY], ids=["websocket", "spdy"])
def test_exec_and_logs(web: NodeCluster, env: dict[str, str]) -> None:
    r = _run(web, "exec", "-i", "web", "-c", "main", "--", "sh", "-c", "cat; exit 3", input="in\n", env=env)
    assert (r.returncode, r.stdout) == (3, "in\n"), r.stderr
    assert _run(web, "logs", "web", "-c", "main").stdout == "started\n"


def test_previous_logs_of_a_restarted_container(web: NodeCluster) -> None:
    def restarted() -> object:
        statuses = web.pod("web")["status"].get("containerStatuses") or []
        return any(s["name"] == "crash" and s.get("restartCount", 0) >= 1 for s in statuses)
    web.wait_for("crash restarted", restarted)
    previous = _run(web, "logs", "web", "-c", "crash", "--previous")
    assert previous.returncode == 0 and previous.stdout.startswith("run "), previous.stderr
    current = _run(web, "logs", "web", "-c", "crash")
    assert current.returncode != 0 or current.stdout != previous.stdout  # another instance, another uuid


@pytest.mark.parametrize("env", [{}, SPDY], ids=["websocket", "spdy"])
def test_port_forward(web: NodeCluster, env: dict[str, str]) -> None:
    proc = subprocess.Popen([*web.argv, "port-forward", "pod/web", ":8080"], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env})
    try:
        assert proc.stdout is not None
        m = re.search(r"127\.0\.0\.1:(\d+) -> 8080", proc.stdout.readline())
        assert m
        with urllib.request.urlopen(f"http://127.0.0.1:{m.group(1)}/index.html", timeout=30) as resp:
            assert resp.read() == b"pong\n"
    finally:
        proc.terminate()
        proc.wait(10)
