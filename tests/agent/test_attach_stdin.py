"""The end of an attach client's stdin: ``stdinOnce`` closes the container's stdin, plain ``stdin`` keeps it.

Against a real ``kubelite up`` node with kubectl 1.32 (WebSockets v5 and
SPDY) and the kubernetes Python client: ``echo hello | kubectl run -i --rm
... -- cat`` must print hello, see ``cat`` exit at EOF, return 0 and leave no
pod; a ``stdin: true`` container keeps its stdin across attach sessions; a
stdinOnce container reads EOF whether the client closed stdin (v5) or just
went away.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Iterator

import pytest
from kubernetes import client, config
from kubernetes.stream import stream

from tests.agent.nodecluster import NodeCluster

pytestmark = pytest.mark.root

SPDY = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}
PROTOCOLS = pytest.mark.parametrize("env", [{}, SPDY], ids=["websocket", "spdy"])


def _pod(name: str, command: str, stdin_once: bool) -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "{command}"]
    stdin: true
    stdinOnce: {str(stdin_once).lower()}
"""


@pytest.fixture(scope="module")
def core(cluster: NodeCluster) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(str(cluster.kubeconfig))
    try:
        yield client.CoreV1Api(api)
    finally:
        api.close()


def _gone(c: NodeCluster, name: str) -> bool:
    r = c.kubectl("get", "pod", name)
    return r.returncode != 0 and "NotFound" in r.stderr


def _terminated(c: NodeCluster, name: str) -> dict[str, object]:
    """The container's terminated state, once the pod has finished."""
    pod = c.wait_for(f"pod {name} finished",
                     lambda: (p := c.pod(name))["status"].get("phase") in ("Succeeded", "Failed") and p)
    state: dict[str, object] = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    return state


@PROTOCOLS
def test_run_i_rm_cat_sees_end_of_input(cluster: NodeCluster, env: dict[str, str]) -> None:
    name = "cat-spdy" if env else "cat-ws"
    r = subprocess.run([*cluster.argv, "run", "-i", "--rm", "--restart=Never", name, "--image=busybox",
                        "--", "cat"], input="hello\n", capture_output=True, text=True, timeout=120,
                       env={**os.environ, **env})
    assert r.returncode == 0, f"{r.stdout!r} {r.stderr!r}\n{cluster.tail()}"
    assert r.stdout.splitlines()[0] == "hello", r.stdout
    cluster.wait_for(f"pod {name} deleted", lambda: _gone(cluster, name))


def _read_until(proc: subprocess.Popen[bytes], want: bytes, what: str) -> bytes:
    """kubectl's output up to ``want``; a generous deadline only turns a hang into a failure."""
    assert proc.stdout is not None
    out = b""
    deadline = time.monotonic() + 60
    while want not in out:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"{what}: no {want!r} from kubectl attach, got {out!r}"
        chunk = os.read(proc.stdout.fileno(), 4096)
        assert chunk, f"{what}: kubectl attach ended before {want!r}: {out!r}"
        out += chunk
    return out


def test_stdin_without_stdin_once_survives_attaches(cluster: NodeCluster) -> None:
    cluster.apply(_pod("echo", "exec cat", stdin_once=False))
    cluster.wait_running_ready("echo")
    for word in (b"first", b"second"):
        proc = subprocess.Popen([*cluster.argv, "attach", "-i", "echo", "-c", "main"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert proc.stdin is not None
            proc.stdin.write(word + b"\n")
            proc.stdin.flush()
            _read_until(proc, word + b"\n", f"attach with {word!r}")
        finally:
            proc.terminate()  # the session ends by going away, as a user's ^C does
            proc.communicate(timeout=60)
    status = cluster.pod("echo")["status"]["containerStatuses"][0]
    assert "running" in status["state"] and status["restartCount"] == 0, status
    assert cluster.ok("logs", "echo") == "first\nsecond\n"
    cluster.ok("delete", "pod", "echo", "--wait=true", timeout=120)


def _attach(core: client.CoreV1Api, name: str) -> client.ApiClient:
    return stream(core.connect_get_namespaced_pod_attach, name, "default", container="main",
                  stdin=True, stdout=True, stderr=True, tty=False, _preload_content=False)


def test_client_closing_stdin_ends_stdin_once_input(cluster: NodeCluster, core: client.CoreV1Api) -> None:
    cluster.apply(_pod("once-close", "cat; echo read-all", stdin_once=True))
    cluster.wait_running_ready("once-close")
    ws = _attach(core, "once-close")
    ws.write_stdin("typed\n")
    ws.close_channel(0)  # v5: the end of stdin; the session goes on to the container's exit
    ws.run_forever(timeout=60)
    assert ws.read_stdout() == "typed\nread-all\n"
    assert ws.returncode == 0
    assert _terminated(cluster, "once-close")["exitCode"] == 0
    cluster.ok("delete", "pod", "once-close", "--wait=true", timeout=120)


def test_client_going_away_ends_stdin_once_input(cluster: NodeCluster, core: client.CoreV1Api) -> None:
    cluster.apply(_pod("once-leave", "cat; echo read-all", stdin_once=True))
    cluster.wait_running_ready("once-leave")
    ws = _attach(core, "once-leave")
    ws.write_stdin("typed\n")
    ws.close()  # no close signal, as a v4 client: the disconnect is the end of its stdin
    assert _terminated(cluster, "once-leave")["exitCode"] == 0
    assert cluster.ok("logs", "once-leave") == "typed\nread-all\n"
    cluster.ok("delete", "pod", "once-leave", "--wait=true", timeout=120)
