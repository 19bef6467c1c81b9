"""A node for the streaming tests: real containers, the real streaming server, a real API server.

Containers come from the Engine under the test's own roots; the streaming
server runs on its own event loop in a thread (the tests drive kubectl
synchronously); the API server is ``tests/api/conftest.py``'s subprocess. A
Node object points at the streaming server and Pods bound to it name the
containers, so every request goes kubectl → API server → agent → container.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelite.agent.streaming.backend import StaticPod, StaticPods
from kubelite.agent.streaming.server import StreamingServer
from kubelite.containers.engine import Engine
from kubelite.containers.specgen import RunOptions
from tests.api.conftest import KUBECTL, Cluster, free_port, start_cluster, stop_cluster

__all__ = ["KUBECTL", "Rig", "running"]

NODE = "stream-node"

WEB = ("echo hello-out; echo hello-err >&2; mkdir -p /www; echo pong > /www/index.html; "
       "exec httpd -f -p 8080 -h /www")
SHORT = "for i in 1 2 3; do echo line$i; sleep 0.2; done"
ASK = "read line; echo got $line; exit 4"
TICK = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"


@dataclass
class Rig:
    base: Path
    engine: Engine
    cluster: Cluster
    server: StreamingServer
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    containers: list[str] = field(default_factory=list)

    def kubectl(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.cluster.argv, *args], input=input, text=True, capture_output=True,
                              timeout=timeout, env={**os.environ, **(env or {})})

    def ok(self, *args: str, **kw: Any) -> str:
        r = self.kubectl(*args, **kw)
        assert r.returncode == 0, f"kubectl {' '.join(args)} -> {r.returncode}: {r.stderr}"
        return r.stdout


def _run(engine: Engine, name: str, script: str, interactive: bool = False, tty: bool = False) -> str:
    rec, _ = engine.run(RunOptions(image="busybox", command=["sh", "-c", script], name=name, detach=True,
                                   interactive=interactive, tty=tty))
    return rec.id


def _netns(engine: Engine, ref: str) -> str:
    """The container's network namespace, its loopback up (the agent's sandbox does that for a pod)."""
    st = engine.view(engine.find(ref)).state
    assert st is not None
    path = f"/proc/{st.pid}/ns/net"
    subprocess.run(["nsenter", f"--net={path}", "ip", "link", "set", "lo", "up"], check=True)
    return path


def start(base: Path) -> Rig:
    root, state = base / "data", base / "state"
    os.environ["KUBELITE_ROOT"], os.environ["KUBELITE_STATE"] = str(root), str(state)
    engine = Engine(root, state / "containers")
    names: list[str] = []
    try:
        for name, script, interactive in (("web", WEB, False), ("short", SHORT, False), ("ask", ASK, True),
                                          ("tick", TICK, False), ("term", "exec sh", True)):
            _run(engine, f"t-{name}", script, interactive, tty=name == "term")
            names.append(f"t-{name}")
        engine.wait_exit(engine.find("t-short"), 30)
        pods = StaticPods(engine, {
            ("default", "app"): StaticPod({"main": "t-web", "short": "t-short", "tick": "t-tick"},
                                                _netns(engine, "t-web")),
            ("default", "ask"): StaticPod({"main": "t-ask"}, _netns(engine, "t-ask")),
            ("default", "term"): StaticPod({"main": "t-term"}, _netns(engine, "t-term")),
        })
        cluster = start_cluster(base / "api")
    except BaseException:
        _remove(engine, names)
        raise
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="streaming server", daemon=True)
    thread.start()
    ca = (cluster.data_dir / "pki" / "ca.crt").read_bytes()
    server = StreamingServer(pods, ca, host="127.0.0.1", port=0)
    rig = Rig(base, engine, cluster, server, loop, thread, names)
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
        _register(rig)
    except BaseException:
        stop(rig)
        raise
    return rig


def _register(rig: Rig) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}}
    rig.ok("create", "-f", "-", input=json.dumps(node))
    status = {"status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                         "daemonEndpoints": {"kubeletEndpoint": {"Port": rig.server.port}}}}
    rig.ok("patch", "node", NODE, "--subresource=status", "--type=merge", "-p", json.dumps(status))
    for name, containers in (("app", ["main", "short", "tick"]), ("ask", ["main"]), ("term", ["main"])):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
               "spec": {"nodeName": NODE, "containers": [{"name": c, "image": "busybox", "stdin": name != "app",
                                                          "tty": name == "term"} for c in containers]}}
        rig.ok("create", "-f", "-", input=json.dumps(pod))
        # kubectl port-forward refuses a pod that is not Running; no agent runs here to say so.
        rig.ok("patch", "pod", name, "--subresource=status", "--type=merge", "-p",
               json.dumps({"status": {"phase": "Running", "containerStatuses": [
                   {"name": c, "ready": True, "restartCount": 0, "image": "busybox", "imageID": "",
                    "state": {"running": {}}} for c in containers]}}))
    # Pods the API server cannot reach: not scheduled, on a node that never reported its agent's endpoint,
    # and on a node whose agent does not answer.
    closed_port = free_port()
    for pod_name, node_name, node_status in (
            ("unbound", "", None),
            ("silent", "silent-node", {}),
            ("dead", "dead-node", {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                                   "daemonEndpoints": {"kubeletEndpoint": {"Port": closed_port}}})):
        if node_name:
            rig.ok("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Node",
                                                          "metadata": {"name": node_name}}))
            if node_status:
                rig.ok("patch", "node", node_name, "--subresource=status", "--type=merge", "-p",
                       json.dumps({"status": node_status}))
        spec: dict[str, Any] = {"containers": [{"name": "main", "image": "busybox"}]}
        if node_name:
            spec["nodeName"] = node_name
        rig.ok("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Pod", "spec": spec,
                                                      "metadata": {"name": pod_name, "namespace": "default"}}))


def wait_idle(rig: Rig, kind: str | None = None, timeout: float = 30) -> None:
    """Wait until the agent has no ``kind`` (or no) request in progress; fail with what is still open."""
    deadline = time.monotonic() + timeout
    while True:
        open_ = {k: n for k, n in rig.server.active.items() if n and (kind is None or k == kind)}
        if not open_:
            return
        assert time.monotonic() < deadline, f"sessions still open on the agent: {open_}"
        time.sleep(0.05)


def _remove(engine: Engine, names: list[str]) -> None:
    for n in names:
        try:
            engine.remove(n, force=True)
        except Exception:  # noqa: BLE001 - best effort: remove the rest
            pass


def stop(rig: Rig) -> None:
    try:
        asyncio.run_coroutine_threadsafe(rig.server.stop(), rig.loop).result(30)
    finally:
        rig.loop.call_soon_threadsafe(rig.loop.stop)
        rig.thread.join(10)
        rig.loop.close()
        try:
            stop_cluster(rig.cluster)
        finally:
            _remove(rig.engine, rig.containers)
            for m in sorted(_mounts_under(str(rig.base)), reverse=True):
                subprocess.run(["umount", "-l", m], check=False)
            shutil.rmtree(rig.base / "state", ignore_errors=True)


def _mounts_under(path: str) -> list[str]:
    with open("/proc/self/mounts") as f:
        return [line.split()[1] for line in f if line.split()[1].startswith(path)]


@contextlib.contextmanager
def running(base: Path) -> Iterator[Rig]:
    """A node under ``base`` for the length of the block; the process environment is put back afterwards."""
    saved = {k: os.environ.get(k) for k in ("KUBELITE_ROOT", "KUBELITE_STATE")}
    r = start(base)
    try:
        yield r
        wait_idle(r)  # every session the tests opened has ended on the agent too
    finally:
        stop(r)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
