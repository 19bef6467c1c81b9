"""One suite, every implementation: what set() writes, what stats() reads, lifecycle.

Parametrised (conftest ``cg``) over real v1 on this host, a fake v1 tree and a
fake v2 tree. Expected file contents are given per version: the same OCI
input must land in the v1 file or the converted v2 file.
"""

import os
import signal
import time
from typing import Any

import pytest
from cgroup_env import Env

from kubelite.errors import Invalid

MiB = 1 << 20

# (OCI resources, {version: [(controller, file, expected content)]})
CASES: list[tuple[str, dict[str, Any], dict[str, list[tuple[str, str, str]]]]] = [
    (
        "memory-limit-and-swap",
        {"memory": {"limit": 32 * MiB, "swap": 64 * MiB}},
        {
            "v1": [
                ("memory", "memory.limit_in_bytes", str(32 * MiB)),
                ("memory", "memory.memsw.limit_in_bytes", str(64 * MiB)),
            ],
            "v2": [("memory", "memory.max", str(32 * MiB)), ("memory", "memory.swap.max", str(32 * MiB))],
        },
    ),
    (
        "memory-no-swap",
        {"memory": {"limit": 32 * MiB, "swap": 32 * MiB}},
        {
            "v1": [("memory", "memory.memsw.limit_in_bytes", str(32 * MiB))],
            "v2": [("memory", "memory.swap.max", "0")],
        },
    ),
    (
        "memory-reservation",
        {"memory": {"reservation": 16 * MiB}},
        {
            "v1": [("memory", "memory.soft_limit_in_bytes", str(16 * MiB))],
            "v2": [("memory", "memory.low", str(16 * MiB))],
        },
    ),
    (
        "cpu-shares",
        {"cpu": {"shares": 512}},
        {"v1": [("cpu", "cpu.shares", "512")], "v2": [("cpu", "cpu.weight", "20")]},
    ),
    (
        "cpu-shares-max",
        {"cpu": {"shares": 262144}},
        {"v1": [("cpu", "cpu.shares", "262144")], "v2": [("cpu", "cpu.weight", "10000")]},
    ),
    (
        "cpu-quota",
        {"cpu": {"quota": 50000, "period": 100000}},
        {
            "v1": [("cpu", "cpu.cfs_quota_us", "50000"), ("cpu", "cpu.cfs_period_us", "100000")],
            "v2": [("cpu", "cpu.max", "50000 100000")],
        },
    ),
    (
        "cpu-quota-other-period",
        {"cpu": {"quota": 150000, "period": 50000}},
        {
            "v1": [("cpu", "cpu.cfs_quota_us", "150000"), ("cpu", "cpu.cfs_period_us", "50000")],
            "v2": [("cpu", "cpu.max", "150000 50000")],
        },
    ),
    (
        "cpu-unlimited",
        {"cpu": {"quota": -1, "period": 100000}},
        {"v1": [("cpu", "cpu.cfs_quota_us", "-1")], "v2": [("cpu", "cpu.max", "max 100000")]},
    ),
    (
        "cpuset",
        {"cpu": {"cpus": "0", "mems": "0"}},
        {
            "v1": [("cpuset", "cpuset.cpus", "0"), ("cpuset", "cpuset.mems", "0")],
            "v2": [("cpuset", "cpuset.cpus", "0"), ("cpuset", "cpuset.mems", "0")],
        },
    ),
    (
        "pids",
        {"pids": {"limit": 10}},
        {"v1": [("pids", "pids.max", "10")], "v2": [("pids", "pids.max", "10")]},
    ),
    (
        "pids-unlimited",
        {"pids": {"limit": -1}},
        {"v1": [("pids", "pids.max", "max")], "v2": [("pids", "pids.max", "max")]},
    ),
    (
        "pids-zero-is-unlimited",
        {"pids": {"limit": 0}},
        {"v1": [("pids", "pids.max", "max")], "v2": [("pids", "pids.max", "max")]},
    ),
    (
        "unknown-keys-ignored",
        {"blockIO": {"weight": 10}, "hugepageLimits": [], "memory": {"kernel": 1}},
        {"v1": [], "v2": []},
    ),
]


@pytest.mark.parametrize("resources,expected", [pytest.param(r, e, id=n) for n, r, e in CASES])
def test_set_writes(
    cg: Env, resources: dict[str, Any], expected: dict[str, list[tuple[str, str, str]]]
) -> None:
    m = cg.manager()
    m.create()
    m.set(resources)
    for controller, name, content in expected[cg.version]:
        assert cg.read(m, controller, name) == content, name


def test_set_is_repeatable_and_can_lower_memory(cg: Env) -> None:
    m = cg.manager()
    m.create()
    m.set({"memory": {"limit": 64 * MiB, "swap": 128 * MiB}})
    m.set({"memory": {"limit": 32 * MiB, "swap": 32 * MiB}})  # both lower: limit must go first on v1
    m.set({"memory": {"limit": 96 * MiB, "swap": 96 * MiB}})  # both higher: memsw must go first on v1
    assert m.stats().memory_limit == 96 * MiB
    m.set({"memory": {"limit": -1}})  # unlimited lifts swap too
    assert m.stats().memory_limit is None


@pytest.mark.parametrize(
    "resources",
    [
        {"memory": {"limit": "64m"}},
        {"memory": {"limit": True}},
        {"memory": {"limit": -5}},
        {"memory": {"limit": 64 * MiB, "swap": 32 * MiB}},
        {"memory": {"swappiness": 101}},
        {"cpu": {"shares": "x"}},
        {"cpu": {"period": 10}},
        {"cpu": {"quota": 10}},
        {"cpu": {"cpus": "a-b"}},
        {"pids": {"limit": 1.5}},
        {"pids": "lots"},
        {"devices": [{"allow": "yes"}]},
        {"unified": {"../escape": "1"}},
    ],
)
def test_bad_values_are_invalid_and_write_nothing(cg: Env, resources: dict[str, Any]) -> None:
    m = cg.manager()
    m.create()
    before = m.stats()
    with pytest.raises(Invalid):
        m.set(resources)
    assert m.stats() == before


def test_stats_reflect_limits(cg: Env) -> None:
    m = cg.manager()
    m.create()
    st = m.stats()
    assert st.memory_limit is None and st.pids_limit is None and st.oom_kills == 0
    m.set({"memory": {"limit": 32 * MiB}, "pids": {"limit": 10}})
    st = m.stats()
    assert (st.memory_limit, st.pids_limit, st.pids_current) == (32 * MiB, 10, 0)
    assert not m.oom_killed()


def test_create_is_idempotent_and_paths_exist(cg: Env) -> None:
    m = cg.manager()
    m.create()
    m.create()
    paths = m.paths()
    assert paths and all(p.is_dir() for p in paths.values())
    assert all(cg.parent.lstrip("/") in str(p) for p in paths.values())
    if cg.version == "v1":
        assert {"cpu", "cpuacct", "memory", "pids", "cpuset", "freezer"} <= set(paths)
        assert cg.read(m, "cpuset", "cpuset.cpus") != ""  # copied from the parent, so tasks can join
    else:
        top = cg.root / "cgroup.subtree_control"
        assert set(top.read_text().split()) >= {"cpu", "memory", "pids"}


def test_apply_procs_freeze_thaw_destroy(cg: Env, children: Any) -> None:
    m = cg.manager()
    m.create()
    r, w = os.pipe()
    pid = children(lambda: os.read(r, 1))
    m.apply(pid)
    assert m.procs() == [pid]
    m.freeze()
    assert cg.frozen(m)
    m.thaw()
    assert not cg.frozen(m)
    m.destroy()
    assert os.waitpid(pid, 0)[1] == signal.SIGKILL  # killed by destroy, not by reading EOF
    os.close(r)
    os.close(w)
    assert not any(p.exists() for p in m.paths().values())
    m.destroy()  # gone already: no error
    assert m.procs() == []


def test_kill_all_with_a_catchable_signal(cg: Env, children: Any) -> None:
    m = cg.manager()
    m.create()

    def child() -> None:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(42))
        time.sleep(30)

    pid = children(child)
    m.apply(pid)
    time.sleep(0.05)  # let the child install its handler
    m.kill_all(signal.SIGTERM)
    assert os.waitpid(pid, 0)[1] >> 8 == 42
    assert not cg.frozen(m)


def test_destroy_of_never_created_cgroup(cg: Env) -> None:
    m = cg.manager("never")
    m.destroy()
    assert m.procs() == []


def test_kill_all_keeps_a_paused_cgroup_paused(cg: Env, children: Any) -> None:
    m = cg.manager()
    m.create()
    pid = children(lambda: time.sleep(30))
    m.apply(pid)
    m.freeze()
    m.kill_all(signal.SIGTERM)  # delivered once thawed
    assert cg.frozen(m)
    m.kill_all()  # SIGKILL gets through a paused cgroup (v1 thaws, v2's cgroup.kill needs not)
    assert os.waitpid(pid, 0)[1] in (signal.SIGTERM, signal.SIGKILL)
