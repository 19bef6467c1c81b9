"""The v2 manager's core on a real cgroup2 mount (this host's /sys/fs/cgroup/unified).

On this hybrid host the cgroup2 tree has no cpu/memory/pids controllers
(they are bound to v1), but cgroup.procs, cgroup.freeze, cgroup.events and
cgroup.kill are real kernel behaviour: membership, freezing, killing and
removal are tested here against the kernel, the controller files against
the fake tree in the conformance suite.
"""

import os
import signal
import time
from typing import Any

import pytest
from cgroup_env import Env

pytestmark = pytest.mark.root


def _state(pid: int) -> str:
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]


def test_membership_freeze_kill_destroy(v2core: Env, children: Any, subreaper: None) -> None:
    m = v2core.manager()
    m.create()
    m.set({})
    r, w = os.pipe()

    def parent() -> None:
        os.read(r, 1)
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        time.sleep(30)

    pid = children(parent)
    m.apply(pid)
    os.write(w, b"x")
    deadline = time.monotonic() + 5
    while len(m.procs()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(m.procs()) == 2 and pid in m.procs()
    assert m.paths()["unified"].name == "c"
    m.freeze()
    assert "frozen 1" in v2core.read(m, "", "cgroup.events")
    m.thaw()
    assert "frozen 0" in v2core.read(m, "", "cgroup.events")
    m.destroy()
    assert os.waitpid(pid, 0)[1] == signal.SIGKILL
    assert not m.paths()["unified"].exists()
    os.close(r)
    os.close(w)


def test_kill_all_sigterm_signals_each_process(v2core: Env, children: Any) -> None:
    m = v2core.manager()
    m.create()

    def child() -> None:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(7))
        time.sleep(30)

    pid = children(child)
    m.apply(pid)
    time.sleep(0.05)
    m.kill_all(signal.SIGTERM)
    assert os.WEXITSTATUS(os.waitpid(pid, 0)[1]) == 7


def test_set_needs_the_controller(v2core: Env) -> None:
    from kubelite.errors import SystemFailure

    m = v2core.manager()
    m.create()
    if "pids" in (v2core.root / "cgroup.controllers").read_text().split():
        pytest.skip("pids is available on this cgroup2 mount")
    with pytest.raises(SystemFailure, match="pids.max"):
        m.set({"pids": {"limit": 5}})
