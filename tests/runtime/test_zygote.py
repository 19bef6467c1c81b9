"""The shim zygote: containers started through it behave as containers started by a fork of the caller,
and their supervisors are forks of a small interpreter, not of the caller."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubelite.containers.engine import Engine
from kubelite.containers.specgen import RunOptions
from kubelite.errors import Invalid
from kubelite.runtime.shim import ShimOptions
from kubelite.runtime.zygote import Zygote
from tests.conftest import Env

pytestmark = pytest.mark.root


@pytest.fixture
def zengine(kenv: Env) -> Iterator[tuple[Engine, Zygote]]:
    engine = Engine(kenv.root, kenv.state / "containers")
    z = Zygote(tag=str(kenv.state))
    z.start()
    engine.shim_starter = z.start_shim
    try:
        yield engine, z
    finally:
        for rec in engine.records():
            engine.remove(rec.id, force=True)
        z.close()


def smaps(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in smaps_rollup")


def test_a_container_runs_logs_and_exits_through_the_zygote(zengine: tuple[Engine, Zygote]) -> None:
    engine, _ = zengine
    rec = engine.create(RunOptions(image="busybox", command=["sh", "-c", "echo hello from the zygote; exit 3"],
                                   detach=True))
    engine.start(rec)
    exit_ = engine.wait_exit(rec, 30)
    assert exit_ is not None and exit_["exitCode"] == 3
    assert "hello from the zygote" in Path(rec.log_path).read_text()


def test_the_supervisor_is_a_small_fork_of_the_zygote(zengine: tuple[Engine, Zygote]) -> None:
    engine, z = zengine
    rec = engine.create(RunOptions(image="busybox", command=["sleep", "1000"], detach=True))
    st = engine.start(rec)
    assert engine.view(rec).status == "running"
    cmdline = Path(f"/proc/{st.shim_pid}/cmdline").read_bytes().split(b"\0")
    assert b"kubelite.runtime.zygote" in cmdline, cmdline
    assert Path(f"/proc/{st.shim_pid}/comm").read_text().strip() == "kubelite-shim"
    # What the shim alone costs: far less than a copy of this (pytest) process's heap.
    assert smaps(st.shim_pid, "Private_Dirty") < smaps(os.getpid(), "Private_Dirty") / 2


def test_errors_come_back_with_their_kind(zengine: tuple[Engine, Zygote], tmp_path: Path) -> None:
    engine, z = zengine
    bundle = tmp_path / "bad"
    bundle.mkdir()
    spec = {"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["true"], "cwd": "relative"}}
    with pytest.raises(Invalid):
        z.start_shim(engine.runtime, ShimOptions(cid="bad", bundle=bundle, spec=spec, log_path=str(tmp_path / "l")))
    assert not (engine.runtime.store.root / "bad").exists()


def test_a_killed_zygote_is_replaced_and_close_leaves_containers_running(
        zengine: tuple[Engine, Zygote]) -> None:
    engine, z = zengine
    first = z.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    while Path(f"/proc/{first}").exists() and Path(f"/proc/{first}/stat").read_text().split()[2] != "Z":
        time.sleep(0.01)
    rec = engine.create(RunOptions(image="busybox", command=["sleep", "1000"], detach=True))
    engine.start(rec)
    assert z.pid != first and z.started == 2
    assert engine.view(rec).status == "running"
    second = z.pid
    z.close()
    assert second is not None and not Path(f"/proc/{second}").exists()
    assert engine.view(rec).status == "running"  # the supervisor outlives the zygote, as it outlives the agent
    engine.stop(rec.id, timeout=5)
    assert engine.view(rec).status == "exited"


def test_concurrent_starts(zengine: tuple[Engine, Zygote]) -> None:
    engine, _ = zengine
    recs = [engine.create(RunOptions(image="busybox", command=["sleep", "1000"], detach=True)) for _ in range(8)]
    errors: list[BaseException] = []

    def start(i: int) -> None:
        try:
            engine.start(recs[i])
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(len(recs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    views = [engine.view(r) for r in recs]
    assert all(v.status == "running" for v in views)
    assert len({v.state.pid for v in views if v.state is not None}) == len(recs)


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _ns(pid: int, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def test_the_zygote_forks_the_shim_and_the_shim_forks_the_container(zengine: tuple[Engine, Zygote]) -> None:
    """No intermediate processes: the shim is the zygote's child and the container's init the shim's, and
    the shim stays in the host's mount namespace (where it may be; its pid namespace is only for children)."""
    engine, z = zengine
    rec = engine.create(RunOptions(image="busybox", command=["sleep", "1000"], detach=True))
    st = engine.start(rec)
    assert _ppid(st.shim_pid) == z.pid
    assert _ppid(st.pid) == st.shim_pid
    assert _ns(st.shim_pid, "mnt") == _ns(os.getpid(), "mnt") != _ns(st.pid, "mnt")
    assert _ns(st.shim_pid, "pid") == _ns(os.getpid(), "pid") != _ns(st.pid, "pid")
    assert _ns(st.shim_pid, "pid_for_children") == _ns(st.pid, "pid")
    # and the container is PID 1 of its own namespace
    status = Path(f"/proc/{st.pid}/status").read_text()
    assert next(line for line in status.splitlines() if line.startswith("NSpid:")).split()[-1] == "1"


def test_an_ended_shim_is_reaped_by_the_zygote(zengine: tuple[Engine, Zygote]) -> None:
    engine, _ = zengine
    rec = engine.create(RunOptions(image="busybox", command=["true"], detach=True))
    st = engine.start(rec)
    assert engine.wait_exit(rec, 30) is not None
    deadline = time.monotonic() + 10
    while Path(f"/proc/{st.shim_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not Path(f"/proc/{st.shim_pid}").exists()  # no zombie left behind


def test_a_container_started_in_place_inherits_no_ignored_or_blocked_signal(
        zengine: tuple[Engine, Zygote]) -> None:
    engine, _ = zengine
    rec = engine.create(RunOptions(image="busybox", command=["grep", "-E", "SigIgn|SigBlk", "/proc/self/status"],
                                   detach=True))
    engine.start(rec)
    exit_ = engine.wait_exit(rec, 30)
    assert exit_ is not None and exit_["exitCode"] == 0
    log = Path(rec.log_path).read_text()
    assert re.search(r"SigIgn:\s+0+\n", log) and re.search(r"SigBlk:\s+0+\n", log), log
