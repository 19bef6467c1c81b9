"""Version-specific behaviour, against the fake kernels: stats parsing, v2 controller
enabling, v1 ordering rules, and what each version refuses."""

from pathlib import Path
from typing import Any

import pytest
from cgroup_env import Env

from kubelite.errors import Invalid, SystemFailure
from kubelite.runtime import cgroups
from kubelite.runtime.cgroups.v2.cpu import max_value, shares_to_weight
from kubelite.runtime.cgroups.v2.memory import swap_max

MiB = 1 << 20


def _play(env: Env, path: Path, content: str) -> None:
    assert env.fake is not None
    env.fake.set_file(path, content)


def test_v1_stats_are_read_from_every_hierarchy(v1fake: Env) -> None:
    m = v1fake.manager()
    m.create()
    p = m.paths()
    _play(v1fake, p["cpuacct"] / "cpuacct.usage", "3000000000")
    _play(v1fake, p["cpuacct"] / "cpuacct.usage_user", "2000000000")
    _play(v1fake, p["cpuacct"] / "cpuacct.usage_sys", "1000000000")
    _play(v1fake, p["cpu"] / "cpu.stat", "nr_periods 10\nnr_throttled 4\nthrottled_time 5000\n")
    _play(v1fake, p["memory"] / "memory.usage_in_bytes", str(5 * MiB))
    _play(v1fake, p["memory"] / "memory.max_usage_in_bytes", str(7 * MiB))
    _play(v1fake, p["memory"] / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    _play(v1fake, p["pids"] / "pids.current", "3")
    st = m.stats()
    assert (st.cpu_usage_ns, st.cpu_user_ns, st.cpu_system_ns) == (
        3_000_000_000,
        2_000_000_000,
        1_000_000_000,
    )
    assert (st.cpu_throttled_periods, st.cpu_throttled_ns) == (4, 5000)
    assert (st.memory_usage, st.memory_max_usage, st.memory_limit) == (5 * MiB, 7 * MiB, None)
    assert (st.pids_current, st.pids_limit, st.oom_kills) == (3, None, 2)
    assert m.oom_killed()


def test_v1_cpuacct_ticks_when_no_ns_split(v1fake: Env) -> None:
    m = v1fake.manager()
    m.create()
    d = m.paths()["cpuacct"]
    (d / "cpuacct.usage_user").unlink()
    (d / "cpuacct.usage_sys").unlink()
    _play(v1fake, d / "cpuacct.stat", "user 150\nsystem 50\n")
    import os

    hz = os.sysconf("SC_CLK_TCK")
    st = m.stats()
    assert st.cpu_user_ns == 150 * 10**9 // hz and st.cpu_system_ns == 50 * 10**9 // hz


def test_v2_stats(v2fake: Env) -> None:
    m = v2fake.manager()
    m.create()
    d = m.paths()["unified"]
    _play(
        v2fake,
        d / "cpu.stat",
        "usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\nnr_periods 9\n"
        "nr_throttled 2\nthrottled_usec 70\n",
    )
    _play(v2fake, d / "memory.current", str(5 * MiB))
    _play(v2fake, d / "memory.peak", str(6 * MiB))
    _play(v2fake, d / "memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    _play(v2fake, d / "pids.current", "2")
    m.set({"pids": {"limit": 50}, "memory": {"limit": 64 * MiB}})
    st = m.stats()
    assert (st.cpu_usage_ns, st.cpu_user_ns, st.cpu_system_ns) == (3_000_000, 2_000_000, 1_000_000)
    assert (st.cpu_throttled_periods, st.cpu_throttled_ns) == (2, 70_000)
    assert (st.memory_usage, st.memory_max_usage, st.memory_limit) == (5 * MiB, 6 * MiB, 64 * MiB)
    assert (st.pids_current, st.pids_limit, st.oom_kills) == (2, 50, 1)
    assert m.oom_killed()


def test_v2_enables_controllers_top_down_only(v2fake: Env) -> None:
    m = v2fake.manager("pod/c")
    m.create()
    leaf = m.paths()["unified"]
    for d in (v2fake.root, leaf.parent.parent, leaf.parent):
        assert set((d / "cgroup.subtree_control").read_text().split()) == {
            "cpuset",
            "cpu",
            "io",
            "memory",
            "pids",
        }, d
    assert (leaf / "cgroup.subtree_control").read_text() == ""  # the leaf holds processes
    assert (leaf / "memory.max").exists() and not (leaf / "hugetlb.2MB.max").exists()
    m.create()  # nothing to enable twice
    m.destroy()
    v2fake.manager("pod").destroy()


def test_v2_missing_controller_is_reported(v2fake: Env) -> None:
    (v2fake.root / "cgroup.controllers").write_text("cpu memory")
    m = v2fake.manager()
    m.create()
    m.set({"memory": {"limit": 32 * MiB}})
    with pytest.raises(SystemFailure, match="pids.max"):
        m.set({"pids": {"limit": 5}})


def test_v2_swap_without_swap_accounting(v2fake: Env) -> None:
    m = v2fake.manager()
    m.create()
    (m.paths()["unified"] / "memory.swap.max").unlink()
    m.set({"memory": {"limit": 32 * MiB, "swap": 32 * MiB}})  # swap 0: nothing to do
    m.set({"memory": {"limit": -1}})  # swap max: nothing to do
    with pytest.raises(SystemFailure, match="swap"):
        m.set({"memory": {"limit": 32 * MiB, "swap": 64 * MiB}})


def test_v2_unified_and_burst(v2fake: Env) -> None:
    m = v2fake.manager()
    m.create()
    m.set({"unified": {"memory.high": "max", "pids.max": "7"}, "cpu": {"quota": 20000, "burst": 5000}})
    d = m.paths()["unified"]
    assert (d / "pids.max").read_text() == "7" and (d / "cpu.max.burst").read_text() == "5000"
    assert (d / "cpu.max").read_text() == "20000"


def test_v1_refuses_unified_and_writes_memory_flags(v1fake: Env) -> None:
    m = v1fake.manager()
    m.create()
    with pytest.raises(Invalid, match="unified"):
        m.set({"unified": {"memory.high": "max"}})
    m.set({"memory": {"swappiness": 0, "disableOOMKiller": True}, "cpu": {"burst": 1000}})
    d = m.paths()
    assert (d["memory"] / "memory.swappiness").read_text() == "0"
    assert (d["memory"] / "memory.oom_control").read_text() == "1"
    assert (d["cpu"] / "cpu.cfs_burst_us").read_text() == "1000"


def test_v1_without_memsw_skips_swap(v1fake: Env) -> None:
    m = v1fake.manager()
    m.create()
    (m.paths()["memory"] / "memory.memsw.limit_in_bytes").unlink()
    m.set({"memory": {"limit": 32 * MiB, "swap": 64 * MiB}})
    assert m.stats().memory_limit == 32 * MiB


def test_v1_missing_hierarchy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cgroup_fakefs import FakeKernel

    fk = FakeKernel(tmp_path / "fs", "v1")
    fk.install(monkeypatch)
    for f in (fk.root / "pids").iterdir():
        f.unlink()
    (fk.root / "pids").rmdir()
    m = cgroups.manager("/kubelite-test-x/c", root=fk.root, version="v1")
    m.create()
    assert "pids" not in m.paths()
    m.set({"memory": {"limit": 32 * MiB}})
    with pytest.raises(SystemFailure, match="pids hierarchy is not mounted"):
        m.set({"pids": {"limit": 5}})
    m.destroy()
    for h in m.paths().values():
        cgroups.fs.rmdir(h.parent)


def test_v1_devices_rules(v1fake: Env) -> None:
    m = v1fake.manager()
    m.create()
    m.set(
        {
            "devices": [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rw"},
            ]
        }
    )
    d = m.paths()["devices"]
    assert (d / "devices.deny").read_text() == "a *:* rwm"  # last write wins in the fake
    assert (d / "devices.allow").read_text() == "c 136:* rwm"  # the standard devices come last


def test_destroy_refuses_to_hang_on_busy(fake: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubelite.runtime.cgroups import common

    m = fake.manager()
    m.create()
    (next(iter(m.paths().values())) / "stuck").mkdir()  # a child cgroup dir that will not go away

    def rmdir_busy(path: Path) -> None:
        if path.name == "stuck":
            raise OSError(16, "Device or resource busy")
        assert fake.fake is not None
        fake.fake.rmdir(path)

    monkeypatch.setattr(cgroups.fs, "rmdir", rmdir_busy)
    with pytest.raises(SystemFailure, match="busy"):
        common.remove_tree(next(iter(m.paths().values())), timeout=0.05)
    assert fake.fake is not None
    monkeypatch.setattr(cgroups.fs, "rmdir", fake.fake.rmdir)


@pytest.mark.parametrize(
    "shares,weight", [(2, 1), (1024, 39), (512, 20), (262144, 10000), (1, 1), (10**6, 10000)]
)
def test_shares_to_weight(shares: int, weight: int) -> None:
    assert shares_to_weight(shares) == weight


@pytest.mark.parametrize(
    "quota,period,value",
    [
        (50000, 100000, "50000 100000"),
        (None, 100000, "max 100000"),
        (-1, None, "max"),
        (20000, None, "20000"),
        (None, None, None),
    ],
)
def test_cpu_max(quota: Any, period: Any, value: Any) -> None:
    assert max_value(quota, period) == value


def test_swap_conversion() -> None:
    assert swap_max(None, None) is None
    assert swap_max(None, -1) == "max"
    assert swap_max(-1, 32) == "max"
    assert swap_max(96, 32) == "64"
    with pytest.raises(Invalid):
        swap_max(64, None)
    with pytest.raises(Invalid):
        swap_max(16, 32)
