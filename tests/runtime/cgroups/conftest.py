"""Fixtures: every cgroup implementation behind one ``Env`` (cgroup_env.py), and leak checks.

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
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cgroup_env import SYS, Env, leftovers, make_env


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


@pytest.fixture(params=[pytest.param("v1-real", marks=pytest.mark.root), "v1-fake", "v2-fake"])
def cg(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    env = make_env(request.param, tmp_path, monkeypatch)
    try:
        yield env
    finally:
        env.cleanup()
        assert not [d for d in env.parent_dirs() if d.exists()], "parent cgroup left behind"


@pytest.fixture
def v1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    env = make_env("v1-real", tmp_path, monkeypatch)
    try:
        yield env
    finally:
        env.cleanup()


@pytest.fixture
def v2core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    env = make_env("v2-real", tmp_path, monkeypatch)
    try:
        yield env
    finally:
        env.cleanup()


@pytest.fixture
def v1fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    env = make_env("v1-fake", tmp_path, monkeypatch)
    try:
        yield env
    finally:
        env.cleanup()


@pytest.fixture
def v2fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    env = make_env("v2-fake", tmp_path, monkeypatch)
    try:
        yield env
    finally:
        env.cleanup()


@pytest.fixture(params=["v1-fake", "v2-fake"])
def fake(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    env = make_env(request.param, tmp_path, monkeypatch)
    try:
        yield env
    finally:
        env.cleanup()


def _my_children() -> set[int]:
    me, out = str(os.getpid()), set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if stat[1] == me:
                out.add(int(entry))
    return out


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """After each test: no kubelite-test cgroup anywhere, no child process (live or zombie) of ours."""
    before = _my_children()
    yield
    if SYS.is_dir():
        assert leftovers() == [], "a test left kubelite-test cgroups behind"
    assert _my_children() - before == set(), "a test left child processes behind"
