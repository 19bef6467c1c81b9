"""The cgroup v1 manager: the same path in each controller's hierarchy.

Hierarchies are found by directory name under the root (/sys/fs/cgroup/cpu,
.../memory...), which covers both separate mounts and co-mounts reached via
symlinks (cpu -> cpu,cpuacct); directories that resolve to the same mount
are handled once. A hierarchy that is not mounted is skipped at creation and
only becomes an error when the spec asks for a setting it would hold. The
systemd named hierarchy is left alone: kubelite is its own cgroup driver.
"""

import os
import signal
from pathlib import Path
from typing import Any

from kubelite.errors import Invalid, SystemFailure
from kubelite.runtime.cgroups import fs, resources
from kubelite.runtime.cgroups.common import TreeManager, signal_pids
from kubelite.runtime.cgroups.types import CgroupStats
from kubelite.runtime.cgroups.v1 import cpu, cpuset, devices, freezer, memory, pids

HIERARCHIES = ("cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "blkio")


class V1Manager(TreeManager):
    def __init__(self, path: str, root: Path) -> None:
        self.path = path
        self.root = root
        self._rel = path.lstrip("/")
        self._found: dict[str, Path] | None = None
        self._distinct: list[Path] | None = None

    def _hierarchies(self) -> dict[str, Path]:
        # Looked up once per manager: the runtime makes one per container operation, and a create or
        # destroy asks many times (realpath and stat of eight mounts cost ~3 ms each round here).
        if self._found is None:
            self._found = {h: self.root / h for h in HIERARCHIES if (self.root / h).is_dir()}
        return self._found

    def paths(self) -> dict[str, Path]:
        return {h: base / self._rel for h, base in self._hierarchies().items()}

    def _bases(self) -> list[Path]:
        """One root per distinct mount (co-mounted controllers share one)."""
        if self._distinct is None:
            seen: dict[str, Path] = {}
            for base in self._hierarchies().values():
                seen.setdefault(os.path.realpath(base), base)
            self._distinct = list(seen.values())
        return self._distinct

    def _dirs(self) -> list[Path]:
        return [base / self._rel for base in self._bases()]

    def _dir(self, hierarchy: str) -> Path | None:
        base = self.root / hierarchy
        return base / self._rel if base.is_dir() else None

    def _need(self, hierarchy: str) -> Path:
        d = self._dir(hierarchy)
        if d is None:
            raise SystemFailure(f"cgroup v1: the {hierarchy} hierarchy is not mounted under {self.root}")
        return d

    def create(self) -> None:
        if not self._hierarchies():
            raise SystemFailure(f"cgroup v1: no controller hierarchies under {self.root}")
        cpuset_root = os.path.realpath(self.root / "cpuset")
        for base in self._bases():
            is_cpuset = os.path.realpath(base) == cpuset_root
            parent = base
            for part in self._rel.split("/"):
                current = parent / part
                fs.mkdir(current)
                if is_cpuset:
                    cpuset.inherit(parent, current)
                parent = current

    def apply(self, pid: int) -> None:
        for d in self._dirs():
            fs.write(d / "cgroup.procs", pid)

    def set(self, spec: dict[str, Any]) -> None:
        r = resources.parse(spec)
        if r.unified:
            raise Invalid("linux.resources.unified needs cgroup v2; this host runs cgroup v1")
        for hierarchy, module in (
            ("memory", memory),
            ("cpu", cpu),
            ("cpuset", cpuset),
            ("pids", pids),
            ("devices", devices),
        ):
            if module.wants(r):
                module.set(self._need(hierarchy), r)

    def stats(self) -> CgroupStats:
        st = CgroupStats()
        for hierarchy, reader in (
            ("memory", memory.stats),
            ("cpu", cpu.stats),
            ("cpuacct", cpu.acct_stats),
            ("pids", pids.stats),
        ):
            d = self._dir(hierarchy)
            if d is not None:
                reader(d, st)
        return st

    def oom_killed(self) -> bool:
        d = self._dir("memory")
        return d is not None and memory.oom_kills(d) > 0

    def freeze(self) -> None:
        freezer.freeze(self._need("freezer"))

    def thaw(self) -> None:
        freezer.thaw(self._need("freezer"))

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        """Freeze so nothing forks while we signal, signal the subtree, thaw so signals get delivered.

        A cgroup that was paused stays paused after a catchable signal; SIGKILL always thaws,
        or the processes could not die.
        """
        d = self._dir("freezer")
        frozen, was_frozen = False, False
        if d is not None and fs.exists(d):
            was_frozen = freezer.state(d) == "FROZEN"
            try:
                freezer.freeze(d, timeout=1.0)
                frozen = True
            except SystemFailure:
                pass
        try:
            signal_pids(self._tree_procs(), sig)
        finally:
            if frozen and d is not None and (sig == signal.SIGKILL or not was_frozen):
                freezer.thaw(d)
