"""Fixtures shared by every test: a private kubelite root, a CLI runner, a leak check, one etcd.

Every test gets its own data and state roots under a temporary directory, so
tests never touch /var/lib/kubelite. The leak check runs after each test that
used the roots: no mount below them, no kubelite cgroup created by the test,
no process still running from them. One real etcd (Debian's) serves the whole
session, for the store tests and the API tests alike; it is killed at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.etcd_server import EtcdServer

REPO = Path(__file__).resolve().parent.parent
KUBELITE = [sys.executable, "-m", "kubelite.cli.main"]
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def cgroup_dirs() -> set[str]:
    """Every cgroup kubelite made: the /kubelite parents and the containers' own below them."""
    out = set()
    base = Path("/sys/fs/cgroup")
    for hier in [base, *base.iterdir()] if base.is_dir() else []:
        k = hier / "kubelite"
        if k.is_dir():
            out.add(f"{hier.name}/kubelite")
            out.update(f"{hier.name}/kubelite/{p.name}" for p in k.iterdir() if p.is_dir())
    return out


def mounts_under(path: str) -> list[str]:
    with open("/proc/self/mounts") as f:
        return [line.split()[1] for line in f if line.split()[1].startswith(path)]


@dataclass
class Env:
    root: Path
    state: Path
    env: dict[str, str]

    def run(self, *args: str, input: str | None = None, timeout: float = 60, check: bool = False,
            ) -> subprocess.CompletedProcess[str]:
        # Files, not pipes: a container started by the command may hold its stdio open long after it exits.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.run([*KUBELITE, *args], env=self.env, input=input.encode() if input is not None else None,
                                  stdout=out, stderr=err, timeout=timeout,
                                  stdin=None if input is not None else subprocess.DEVNULL)
            out.seek(0)
            err.seek(0)
            res = subprocess.CompletedProcess(proc.args, proc.returncode, out.read().decode(errors="replace"),
                                              err.read().decode(errors="replace"))
        if check and res.returncode != 0:
            raise AssertionError(f"kubelite {' '.join(args)} -> {res.returncode}\n{res.stdout}\n{res.stderr}")
        return res

    def ok(self, *args: str, **kw: object) -> str:
        return self.run(*args, check=True, **kw).stdout  # type: ignore[arg-type]


def _cleanup(env: Env) -> None:
    """Remove whatever a failed test left, so one failure does not cascade."""
    for cid in (env.run("ps", "-aq", "--no-trunc").stdout.split() if (env.root / "containers").exists() else []):
        env.run("rm", "-f", cid)
    oci_root = env.state / "oci"
    if oci_root.exists():
        for cid in os.listdir(oci_root):
            env.run("oci", "--root", str(oci_root), "delete", "--force", cid)
    for m in sorted(mounts_under(str(env.root)), reverse=True):
        subprocess.run(["umount", "-l", m], check=False)


@pytest.fixture
def kenv(tmp_path: Path) -> Iterator[Env]:
    root, state = tmp_path / "data", tmp_path / "state"
    env = dict(os.environ, KUBELITE_ROOT=str(root), KUBELITE_STATE=str(state), PYTHONPATH=str(REPO))
    e = Env(root, state, env)
    before = cgroup_dirs()
    yield e
    leaked_mounts = mounts_under(str(tmp_path))
    deadline = time.monotonic() + 5
    while (cgroup_dirs() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    leaked_cgroups = cgroup_dirs() - before
    procs = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    _cleanup(e)
    assert not leaked_mounts, f"mounts left behind: {leaked_mounts}"
    assert not leaked_cgroups, f"cgroups left behind: {leaked_cgroups}"
    assert not procs, f"processes left behind: {procs}"


@pytest.fixture
def busybox_bundle(tmp_path: Path) -> Path:
    """An OCI bundle as `runc spec` writes it, with a busybox rootfs."""
    bundle = tmp_path / "bundle"
    rootfs = bundle / "rootfs"
    for d in ("bin", "proc", "sys", "dev", "etc", "tmp", "root"):
        (rootfs / d).mkdir(parents=True)
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for a in applets:
        if a != "busybox":
            os.symlink("busybox", rootfs / "bin" / a)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/tmp:/bin/sh\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\nuser:x:1000:\n")
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
    return bundle


@pytest.fixture(scope="session")
def etcd_endpoint() -> Iterator[str]:
    """host:port of the session's etcd (skips the test when etcd is not installed)."""
    if shutil.which("etcd") is None:
        pytest.skip("etcd is not installed")
    with EtcdServer() as server:
        yield server.endpoint
