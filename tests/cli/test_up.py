"""`kubelite up`: the cluster starts, says how to use kubectl, serves kubectl, and stops on SIGINT and SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import KUBECTL, free_port
from tests.conftest import REPO

pytestmark = pytest.mark.root


def start_up(data: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    """Start `kubelite up` and read its banner up to the kubeconfig line."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "kubelite.cli.main", "up", "--data-dir", str(data),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
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
