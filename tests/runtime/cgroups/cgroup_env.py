"""The cgroup implementations under test, each behind one ``Env``.

An Env is a cgroup root (real or fake), a version and a private parent cgroup
``/kubelite-test-<random>`` that ``cleanup`` removes with everything in it.
Lives outside conftest.py so test modules can import it by a unique name.
"""

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cgroup_fakefs import FakeKernel

from kubelite.runtime import cgroups
from kubelite.runtime.cgroups import CgroupManager

SYS = Path("/sys/fs/cgroup")
V1_REAL = (
    os.geteuid() == 0 and (SYS / "memory" / "memory.limit_in_bytes").exists() and (SYS / "pids").is_dir()
)
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


def make_env(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
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
