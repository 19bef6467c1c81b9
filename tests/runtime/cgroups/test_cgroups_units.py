"""Pure helpers: sizes and CPU counts for the CLI, path naming, /proc parsing, detection."""

import os
from pathlib import Path

import pytest

from kubelite.errors import Invalid, NotFound
from kubelite.runtime import cgroups
from kubelite.runtime.cgroups import resources


@pytest.mark.parametrize(
    "text,value",
    [
        ("100", 100),
        ("512k", 512 << 10),
        ("64m", 64 << 20),
        ("1g", 1 << 30),
        ("1.5g", 3 << 29),
        ("64M", 64 << 20),
        ("64MiB", 64 << 20),
        ("2GB", 2 << 30),
        (" 7b ", 7),
        (".5k", 512),
    ],
)
def test_parse_memory(text: str, value: int) -> None:
    assert cgroups.parse_memory(text) == value


@pytest.mark.parametrize("text", ["", "abc", "-1m", "1x", "1.2.3g", "0", "m", "1 g b"])
def test_parse_memory_rejects(text: str) -> None:
    with pytest.raises(Invalid, match="invalid memory size"):
        cgroups.parse_memory(text)


def test_cpus_to_quota() -> None:
    assert cgroups.cpus_to_quota(1.5) == 150000
    assert cgroups.cpus_to_quota(0.5, period=50000) == 25000
    assert cgroups.cpus_to_quota(2) == 200000
    for bad in (0, -1, 0.001, float("nan"), True):
        with pytest.raises(Invalid):
            cgroups.cpus_to_quota(bad)
    with pytest.raises(Invalid):
        cgroups.cpus_to_quota(1, period=10)


@pytest.mark.parametrize(
    "given,normal",
    [
        ("/kubelite/abc", "/kubelite/abc"),
        ("abc", "/kubelite/abc"),
        ("pod1/abc", "/kubelite/pod1/abc"),
        ("/a//b/./c/", "/a/b/c"),
    ],
)
def test_normalize(given: str, normal: str) -> None:
    assert cgroups.normalize(given) == normal
    assert cgroups.manager(given, root=Path("/nonexistent"), version="v2").path == normal


@pytest.mark.parametrize("bad", ["", "/", "/a/../../etc", "system.slice:kubelite:abc", "a\nb"])
def test_normalize_rejects(bad: str) -> None:
    with pytest.raises(Invalid):
        cgroups.normalize(bad)


def test_manager_version_and_detect(tmp_path: Path) -> None:
    assert cgroups.detect(tmp_path) == "v1"
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    assert cgroups.detect(tmp_path) == "v2"
    assert isinstance(cgroups.manager("x", root=tmp_path), cgroups.V2Manager)
    assert isinstance(cgroups.manager("x", root=tmp_path, version="v1"), cgroups.V1Manager)
    with pytest.raises(Invalid):
        cgroups.manager("x", root=tmp_path, version="v3")


@pytest.mark.skipif(not Path("/sys/fs/cgroup").is_dir(), reason="no cgroupfs")
def test_detect_this_host() -> None:
    expected = "v2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "v1"
    assert cgroups.detect() == expected


def test_ns_path_reads_proc() -> None:
    lines = cgroups.proc_cgroups(os.getpid())
    text = Path(f"/proc/{os.getpid()}/cgroup").read_text()
    assert lines and all(p in text for p in lines.values())
    if "memory" in lines:
        assert cgroups.ns_path(os.getpid()) == lines["memory"]
    else:
        assert cgroups.ns_path(os.getpid()) == lines[""]
    assert cgroups.ns_path("self", controller=next(iter(lines))) == lines[next(iter(lines))]
    with pytest.raises(NotFound):
        cgroups.ns_path(os.getpid(), controller="nonsense")
    with pytest.raises(NotFound):
        cgroups.ns_path(2**22 + 1)


def test_resources_normalisation() -> None:
    r = resources.parse(
        {
            "memory": {"limit": 0, "swap": -1},
            "cpu": {"shares": 1, "quota": 0},
            "pids": {"limit": 0},
            "devices": [{"allow": True, "type": "c", "major": 1, "minor": -1, "access": "rw"}],
        }
    )
    assert r.memory_limit is None and r.memory_swap == -1 and r.cpu_shares == 2 and r.cpu_quota is None
    assert r.pids_limit == -1
    assert r.devices is not None and r.devices[0].rule() == "c 1:* rw"
    assert resources.parse(None) == resources.Resources()
    with pytest.raises(Invalid, match="linux.resources.memory.limit"):
        resources.parse({"memory": {"limit": "1g"}})
