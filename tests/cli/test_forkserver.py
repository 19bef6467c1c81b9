"""The command on PATH hands `kubelite oci` to a warm fork server: same behaviour, fewer milliseconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, Env

pytestmark = pytest.mark.root

LAUNCHER = REPO / ".venv" / "bin" / "kubelite-fast"


def server_pids(state: Path) -> list[int]:
    out = subprocess.run(["pgrep", "-f", "kubelite.cli.forkserver import serve"], capture_output=True, text=True)
    pids = []
    for pid in out.stdout.split():
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError):  # it exited since pgrep saw it (ESRCH while it is reaped)
            continue
        if f"KUBELITE_STATE={state}".encode() in env:
            pids.append(int(pid))
    return pids


@pytest.fixture
def fast(kenv: Env) -> Env:
    if not LAUNCHER.exists():
        pytest.skip("scripts/setup.sh has not generated the launcher")
    kenv.env["KUBELITE_FORKSERVER_IDLE"] = "3"
    yield kenv
    for pid in server_pids(kenv.state):
        os.kill(pid, signal.SIGTERM)


def launch(env: Env, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(LAUNCHER), *args], env=env.env, input=input, capture_output=True, timeout=60)


def _bundle(bundle: Path, args: list[str]) -> None:
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    (bundle / "config.json").write_text(json.dumps(spec))


def test_commands_behave_the_same_through_the_server(fast: Env, busybox_bundle: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "oci")
    _bundle(busybox_bundle, ["sh", "-c", "read line; echo got:$line; echo err >&2; exit 9"])
    first = launch(fast, "oci", "--root", root, "run", "--bundle", str(busybox_bundle), "a", input=b"one\n")
    assert (first.returncode, first.stdout, first.stderr) == (9, b"got:one\n", b"err\n")
    deadline = time.monotonic() + 10
    while not (fast.state / "forkserver.sock").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server_pids(fast.state), "the first call should have started a server"
    second = launch(fast, "oci", "--root", root, "run", "--bundle", str(busybox_bundle), "b", input=b"two\n")
    assert (second.returncode, second.stdout, second.stderr) == (9, b"got:two\n", b"err\n")
    bad = launch(fast, "oci", "--root", root, "state", "nope")
    assert bad.returncode == 1 and bad.stderr == b"kubelite: container 'nope' does not exist\n"
    # relative paths are the caller's, not the server's
    rel = launch(fast, "oci", "--root", root, "run", "--bundle", os.path.relpath(busybox_bundle), "c", input=b"x\n")
    assert rel.returncode == 9


def test_signals_reach_the_container(fast: Env, busybox_bundle: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "oci")
    _bundle(busybox_bundle, ["sh", "-c", "trap 'echo terminated; exit 42' TERM; while :; do sleep 0.1; done"])
    launch(fast, "oci", "--root", root, "list")  # start the server
    deadline = time.monotonic() + 10
    while not (fast.state / "forkserver.sock").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc = subprocess.Popen([str(LAUNCHER), "oci", "--root", root, "run", "--bundle", str(busybox_bundle), "s"],
                            env=fast.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not (Path(root) / "s" / "state.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 42 and out == b"terminated\n"


def test_server_exits_when_idle(fast: Env) -> None:
    launch(fast, "oci", "list")
    deadline = time.monotonic() + 10
    while not server_pids(fast.state) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server_pids(fast.state)
    deadline = time.monotonic() + 20
    while server_pids(fast.state) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not server_pids(fast.state)
    assert not (fast.state / "forkserver.sock").exists()
