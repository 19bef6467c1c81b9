"""The shim zygote: containers started through it behave as containers started by a fork of the caller,
and their supervisors are forks of a small interpreter, not of the caller."""

from __future__ import annotations

import os
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
