"""`kubelite up`: the cluster starts, says how to use kubectl, serves kubectl, and stops on SIGINT and SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.api.conftest import KUBECTL, free_port
from tests.conftest import REPO

pytestmark = pytest.mark.root


def start_up(data: Path, port: int, log: Path | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start `kubelite up` (its images and containers beside DATA, not the host's; its log into LOG if given)
    and read its banner up to the kubeconfig line."""
    env = dict(os.environ, PYTHONPATH=str(REPO), KUBELITE_ROOT=str(data.parent / "root"),
               KUBELITE_STATE=str(data.parent / "state"))
    with open(log or os.devnull, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "kubelite.cli.main", "up", "--data-dir", str(data),
                                 "--port", str(port)], stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    assert proc.stdout is not None
    banner = ""
    for line in proc.stdout:
        banner += line
        if "export KUBECONFIG=" in line:
            return proc, banner
    proc.wait(10)
    raise AssertionError(f"kubelite up exited with {proc.returncode} before its banner: {banner}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_up_serves_kubectl_and_stops(tmp_path: Path, sig: signal.Signals) -> None:
    if os.geteuid() != 0:
        pytest.skip("kubelite up needs root")
    data, port = tmp_path / "kl", free_port()
    proc, banner = start_up(data, port)
    try:
        assert f"export KUBECONFIG={data}/kubeconfig.yaml" in banner
        assert f"https://127.0.0.1:{port}" in banner
        out = subprocess.run([KUBECTL, "--kubeconfig", str(data / "kubeconfig.yaml"), "get", "ns", "-o", "name"],
                             capture_output=True, text=True, timeout=30)
        assert "namespace/default" in out.stdout.split(), out.stderr
        assert (data / "state.db").exists()
    finally:
        proc.send_signal(sig)
        try:
            code = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    assert code == 0


def test_up_keeps_its_heartbeat_and_stops_cleanly_after_the_agent_dir_was_removed(tmp_path: Path) -> None:
    """The node's status cannot be read without the agent's data dir: the heartbeat says why and goes on (it
    used to die, and the stop then re-raised its error and hung), and the cluster stops as usual."""
    if os.geteuid() != 0:
        pytest.skip("kubelite up needs root")
    data, log = tmp_path / "kl", tmp_path / "up.log"
    proc, _ = start_up(data, free_port(), log)
    try:
        shutil.rmtree(data / "agent")
        deadline = time.monotonic() + 30  # the heartbeat comes every 10 s
        while "node heartbeat failed" not in log.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"kubelite up hung while stopping: {log.read_text(errors='replace')[-3000:]}") from None
    assert code == 0
    assert "kubelite: stopped" in log.read_text(errors="replace")
