"""cgroup v1 on this host's real hierarchies: limits that actually bite.

Each test forks its own children into a private /kubelite-test-* cgroup;
conftest kills and reaps them and checks nothing is left under /sys/fs/cgroup.
"""

import errno
import os
import signal
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from cgroup_env import Env

pytestmark = pytest.mark.root
MiB = 1 << 20


def _wait_for(r: int) -> None:
    """Block until the parent has put us in the cgroup (it writes one byte)."""
    os.read(r, 1)


def test_limits_land_in_the_files_and_the_child_is_listed(v1: Env, children: Any) -> None:
    m = v1.manager()
    m.create()
    m.set({"memory": {"limit": 32 * MiB}, "pids": {"limit": 10}, "cpu": {"quota": 50000, "period": 100000}})
    pid = children(lambda: time.sleep(30))
    m.apply(pid)
    assert v1.read(m, "memory", "memory.limit_in_bytes") == str(32 * MiB)
    assert v1.read(m, "pids", "pids.max") == "10"
    assert v1.read(m, "cpu", "cpu.cfs_quota_us") == "50000"
    assert v1.read(m, "cpu", "cpu.cfs_period_us") == "100000"
    assert m.procs() == [pid]
    for hierarchy, d in m.paths().items():
        assert str(pid) in (d / "cgroup.procs").read_text().split(), hierarchy
    line = {c: p for c, p in (x.split(":", 2)[1:] for x in open(f"/proc/{pid}/cgroup").read().splitlines())}
    assert line["memory"] == m.path
    assert m.stats().pids_current == 1
    assert v1.read(m, "memory", "memory.oom_control").startswith("oom_kill_disable 0")


def test_allocating_past_the_limit_is_oom_killed(v1: Env, children: Any) -> None:
    m = v1.manager()
    m.create()
    # swap == limit: no swap to escape into, whether or not the host has swap
    m.set({"memory": {"limit": 32 * MiB, "swap": 32 * MiB}})
    r, w = os.pipe()

    def hog() -> int:
        _wait_for(r)
        block = b"\x01" * (100 * MiB)  # memset touches every page
        return len(block) & 1

    pid = children(hog)
    m.apply(pid)
    os.write(w, b"x")
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert m.oom_killed()
    st = m.stats()
    assert st.oom_kills >= 1 and st.memory_max_usage is not None and st.memory_max_usage <= 32 * MiB
    os.close(r)
    os.close(w)


def test_fork_bomb_is_bounded_by_pids_max(v1: Env, children: Any, subreaper: None) -> None:
    m = v1.manager()
    m.create()
    m.set({"pids": {"limit": 10}})
    r, w = os.pipe()
    hold_r, hold_w = os.pipe()

    def bomb() -> int:
        _wait_for(r)
        made = 0
        for _ in range(50):
            try:
                child = os.fork()
            except BlockingIOError as e:
                assert e.errno == errno.EAGAIN
                return 100 + made  # fork refused: report how many got through
            if child == 0:
                os.read(hold_r, 1)  # hold a pid until the test lets go
                os._exit(0)
            made += 1
        return 1  # never refused: the limit did not work

    pid = children(bomb)
    m.apply(pid)
    os.write(w, b"x")
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 100 + 9  # 10 tasks: the bomb and 9 forks
    assert m.stats().pids_current == 9  # the orphans still sit in the cgroup
    m.destroy()  # kills the orphans
    for fd in (r, w, hold_r, hold_w):
        os.close(fd)


def test_destroy_kills_grandchildren_and_removes_every_hierarchy(
    v1: Env, children: Any, subreaper: None
) -> None:
    m = v1.manager()
    m.create()
    r, w = os.pipe()

    def parent() -> None:
        _wait_for(r)
        for _ in range(3):
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
        time.sleep(30)

    pid = children(parent)
    m.apply(pid)
    os.write(w, b"x")
    deadline = time.monotonic() + 5
    while len(m.procs()) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    family = m.procs()
    assert len(family) == 4
    m.destroy()
    assert os.waitpid(pid, 0)[1] == signal.SIGKILL
    for p in family:
        assert (
            not os.path.exists(f"/proc/{p}") or open(f"/proc/{p}/stat").read().split(")")[1].split()[0] == "Z"
        )
    assert not [p for p in m.paths().values() if p.exists()]
    os.close(r)
    os.close(w)


def test_cpu_and_memory_usage_are_counted(v1: Env, children: Any) -> None:
    m = v1.manager()
    m.create()
    r, w = os.pipe()
    done_r, done_w = os.pipe()

    def work() -> None:
        _wait_for(r)
        block = b"\x01" * (8 * MiB)
        end = time.monotonic() + 0.2
        while time.monotonic() < end:
            pass
        os.write(done_w, b"x")
        time.sleep(30 + len(block) * 0)

    pid = children(work)
    m.apply(pid)
    os.write(w, b"x")
    os.read(done_r, 1)
    st = m.stats()
    assert st.cpu_usage_ns >= 100_000_000
    assert st.cpu_user_ns > 0 and st.cpu_user_ns + st.cpu_system_ns <= st.cpu_usage_ns * 2
    assert st.memory_usage >= 8 * MiB
    assert st.pids_current == 1
    for fd in (r, w, done_r, done_w):
        os.close(fd)


def test_quota_throttles(v1: Env, children: Any) -> None:
    m = v1.manager()
    m.create()
    m.set({"cpu": {"quota": 10000, "period": 100000}})  # 10% of one CPU
    r, w = os.pipe()

    def spin() -> None:
        _wait_for(r)
        while True:
            pass

    pid = children(spin)
    m.apply(pid)
    os.write(w, b"x")
    time.sleep(0.5)
    st = m.stats()
    assert st.cpu_throttled_periods > 0
    assert st.cpu_usage_ns < 200_000_000  # ~50ms allowed in 0.5s, not 500ms
    m.destroy()
    assert os.waitpid(pid, 0)[1] == signal.SIGKILL
    os.close(r)
    os.close(w)


def test_devices_deny_all_keeps_the_standard_devices(v1: Env, children: Any, tmp_path: Path) -> None:
    m = v1.manager()
    m.create()
    m.set({"devices": [{"allow": False, "access": "rwm"}]})
    rules = v1.read(m, "devices", "devices.list").splitlines()
    assert "c 1:3 rwm" in rules and "c 136:* rwm" in rules and "a *:* rwm" not in rules
    r, w = os.pipe()

    def probe() -> int:
        _wait_for(r)
        os.close(os.open("/dev/null", os.O_RDWR))
        node = str(tmp_path / "kmsg")
        os.mknod(node, 0o600 | stat.S_IFCHR, os.makedev(1, 11))  # mknod stays allowed
        try:
            os.close(os.open(node, os.O_RDONLY))
        except PermissionError:
            return 3  # /dev/kmsg is not on the list: the cgroup refuses the open
        return 4

    pid = children(probe)
    m.apply(pid)
    os.write(w, b"x")
    assert os.WEXITSTATUS(os.waitpid(pid, 0)[1]) == 3
    os.close(r)
    os.close(w)


def test_nested_managers_and_shared_parent(v1: Env) -> None:
    a, b = v1.manager("pod/a"), v1.manager("pod/b")
    a.create()
    b.create()
    a.destroy()
    assert all(p.exists() for p in b.paths().values())
    assert all(p.parent.exists() for p in a.paths().values())  # parents stay for their other children
    b.destroy()
    for p in a.paths().values():
        os.rmdir(p.parent)
