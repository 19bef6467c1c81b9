"""Fixtures: every cgroup implementation behind one ``Env``, and leak checks.

``cg`` is parametrised over the real v1 hierarchies of this host (skipped when
absent or not root), a fake v1 tree and a fake v2 tree (``cgroup_fakefs``).
Each test gets its own parent cgroup, ``/kubelite-test-<random>``, removed
in teardown; afterwards no ``*kubelite-test*`` cgroup may remain anywhere
under /sys/fs/cgroup and no child process we forked may still exist.
"""

import ctypes
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cgroup_fakefs import FakeKernel

from kubelite.runtime import cgroups
from kubelite.runtime.cgroups import CgroupManager

SYS = Path("/sys/fs/cgroup")
V1_REAL = os.geteuid() == 0 and (SYS / "memory" / "memory.limit_in_bytes").exists() and (SYS / "pids").is_dir()
V2_CORE_ROOT = SYS / "unified" if (SYS / "unified" / "cgroup.controllers").exists() else SYS
V2_REAL = os.geteuid() == 0 and (V2_CORE_ROOT / "cgroup.controllers").exists()


def leftovers() -> list[str]:
    found = []
    for top, dirs, _ in os.walk(SYS):
        found += [os.path.join(top, d) for d in dirs if "kubelite-test" in d]
    return found


@dataclass
class Env:
    """One cgroup implementation under test, with a private parent cgroup."""

    kind: str  # "v1-real", "v1-fake", "v2-fake", "v2-real"
    version: str
    root: Path
    parent: str = field(default_factory=lambda: f"/kubelite-test-{uuid.uuid4().hex[:10]}")
    fake: FakeKernel | None = None
    managers: list[CgroupManager] = field(default_factory=list)

    def manager(self, name: str = "c") -> CgroupManager:
        m = cgroups.manager(f"{self.parent}/{name}", root=self.root, version=self.version)
        self.managers.append(m)
        return m

    def file(self, m: CgroupManager, controller: str, name: str) -> Path:
        return m.paths()["unified" if self.version == "v2" else controller] / name

    def read(self, m: CgroupManager, controller: str, name: str) -> str:
        return self.file(m, controller, name).read_text().strip()

    def frozen(self, m: CgroupManager) -> bool:
        if self.version == "v1":
            return self.read(m, "freezer", "freezer.state") == "FROZEN"
        return "frozen 1" in self.read(m, "", "cgroup.events")

    def parent_dirs(self) -> list[Path]:
        if self.version == "v2":
            return [self.root / self.parent.lstrip("/")]
        return [self.root / h / self.parent.lstrip("/") for h in cgroups.v1.HIERARCHIES]

    def cleanup(self) -> None:
        for m in self.managers:
            m.destroy()
        for d in self.parent_dirs():
            if d.exists():
                cgroups.fs.rmdir(d)


@pytest.fixture
def children() -> Iterator[Callable[[Callable[[], object]], int]]:
    """fork(fn): run FN in a child that always _exits; every child is killed and reaped afterwards."""
    pids: list[int] = []

    def fork(fn: Callable[[], object]) -> int:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                result = fn()
                code = result if isinstance(result, int) else 0
            except BaseException:
                code = 70
            finally:
                os._exit(code)
        pids.append(pid)
        return pid

    yield fork
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


@pytest.fixture
def subreaper() -> Iterator[None]:
    """Make this process the reaper of orphaned grandchildren for the test, and reap them afterwards."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    try:
        yield
    finally:
        libc.prctl(36, 0, 0, 0, 0)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.01)


def _make_env(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    if kind == "v1-real":
        if not V1_REAL:
            pytest.skip("needs root and cgroup v1 hierarchies under /sys/fs/cgroup")
        return Env(kind, "v1", SYS)
    if kind == "v2-real":
        if not V2_REAL:
            pytest.skip("needs root and a cgroup2 mount")
        return Env(kind, "v2", V2_CORE_ROOT)
    version = kind.split("-")[0]
    fake = FakeKernel(tmp_path / "cgroupfs", version)
    fake.install(monkeypatch)
    return Env(kind, version, fake.root, fake=fake)


@pytest.fixture(params=[pytest.param("v1-real", marks=pytest.mark.root), "v1-fake", "v2-fake"])
def cg(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    env = _make_env(request.param, tmp_path, monkeypatch)
    try:
        yield env
    finally:
        env.cleanup()
        assert not [d for d in env.parent_dirs() if d.exists()], "parent cgroup left behind"


@pytest.fixture
def v1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    env = _make_env("v1-real", tmp_path, monkeypatch)
    try:
        yield env
    finally:
        env.cleanup()


@pytest.fixture
def v2core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    env = _make_env("v2-real", tmp_path, monkeypatch)
    try:
        yield env
    finally:
        env.cleanup()


@pytest.fixture(params=["v1-fake", "v2-fake"])
def fake(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    env = _make_env(request.param, tmp_path, monkeypatch)
    try:
        yield env
    finally:
        env.cleanup()


@pytest.fixture(autouse=True)
def no_leaked_cgroups() -> Iterator[None]:
    yield
    if SYS.is_dir():
        assert leftovers() == [], "a test left kubelite-test cgroups behind"
