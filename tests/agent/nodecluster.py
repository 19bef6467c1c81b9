"""A real single-node cluster for agent tests: `kubelite up` in a subprocess, driven by kubectl and the client.

The cluster keeps its images, containers and runtime state under the test's
temporary directory (KUBELITE_ROOT / KUBELITE_STATE), so it never touches the
host's kubelite. ``stop()`` stops the cluster; pods are deleted first by
:func:`delete_all_pods`, so nothing of theirs outlives the test module.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.api.conftest import KUBECTL, REPO, free_port

NODE = "node-a"


@dataclass
class NodeCluster:
    base: Path
    port: int
    proc: subprocess.Popen[bytes]
    env: dict[str, str]

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig.yaml"

    @property
    def log(self) -> Path:
        return self.base / "up.log"

    @property
    def argv(self) -> list[str]:
        return [KUBECTL, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.base / "kubectl-cache")]

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.argv, *args], input=input, text=True, capture_output=True, timeout=timeout)

    def ok(self, *args: str, input: str | None = None, timeout: float = 60) -> str:
        r = self.kubectl(*args, input=input, timeout=timeout)
        assert r.returncode == 0, f"kubectl {' '.join(args)} failed: {r.stderr}\n--- log tail:\n{self.tail()}"
        return r.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-o", "json"))

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def apply(self, manifest: str) -> str:
        return self.ok("apply", "-f", "-", input=manifest)

    def pod(self, name: str, ns: str = "default") -> Any:
        return self.json("get", "pod", name, "-n", ns)

    def wait_for(self, what: str, predicate: Any, timeout: float = 60, interval: float = 0.2) -> Any:
        """Poll ``predicate()`` until it returns something truthy; fail with ``what`` and the server log."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = predicate()
            except (AssertionError, subprocess.SubprocessError, json.JSONDecodeError, KeyError) as e:
                last = e
            else:
                if last:
                    return last
            time.sleep(interval)
        raise AssertionError(f"timed out waiting for {what}: last={last!r}\n--- log tail:\n{self.tail()}")

    def wait_phase(self, name: str, phase: str, ns: str = "default", timeout: float = 60) -> Any:
        return self.wait_for(f"pod {name} {phase}",
                             lambda: (p := self.pod(name, ns))["status"].get("phase") == phase and p, timeout)

    def wait_running_ready(self, name: str, ns: str = "default", timeout: float = 60) -> Any:
        def ready() -> Any:
            p = self.pod(name, ns)
            conds = {c["type"]: c["status"] for c in p["status"].get("conditions") or []}
            return p["status"].get("phase") == "Running" and conds.get("Ready") == "True" and p
        return self.wait_for(f"pod {name} running and ready", ready, timeout)


def start_node_cluster(base: Path, extra_env: dict[str, str] | None = None) -> NodeCluster:
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO), KUBELITE_ROOT=str(base / "root"),
               KUBELITE_STATE=str(base / "state"), **(extra_env or {}))
    log = open(base / "up.log", "wb")  # noqa: SIM115 - lives as long as the cluster
    proc = subprocess.Popen([sys.executable, "-m", "kubelite.cli.up", "--data-dir", str(base / "data"),
                             "--port", str(port), "--node-name", NODE],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    c = NodeCluster(base, port, proc, env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kubelite up exited: {c.tail(80)}")
        if "kubelite is up" in c.log.read_text(errors="replace"):
            return c
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"kubelite up did not start: {c.tail(80)}")


def delete_all_pods(c: NodeCluster) -> None:
    """Delete every pod and wait until the agent has cleaned up after them (sandboxes gone)."""
    c.kubectl("delete", "pods", "--all", "-A", "--grace-period=1", "--wait=true", timeout=120)
    sandboxes = Path(c.env["KUBELITE_STATE"]) / "sandboxes"
    c.wait_for("pod sandboxes removed", lambda: not sandboxes.is_dir() or not any(sandboxes.iterdir()), 60)


def stop_node_cluster(c: NodeCluster) -> None:
    try:
        delete_all_pods(c)
    finally:
        c.proc.send_signal(signal.SIGTERM)
        try:
            c.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            c.proc.kill()
            c.proc.wait()
            raise AssertionError(f"kubelite up did not stop on SIGTERM: {c.tail()}") from None
