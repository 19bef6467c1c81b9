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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelite.errors import Invalid, SystemFailure
from kubelite.runtime.cgroups import fs, resources
from kubelite.runtime.cgroups.common import TreeManager, signal_pids
from kubelite.runtime.cgroups.types import CgroupStats
from kubelite.runtime.cgroups.v1 import cpu, cpuset, devices, freezer, memory, pids

HIERARCHIES = ("cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "blkio")


@dataclass(frozen=True)
class _Layout:
    found: dict[str, Path]  # hierarchy -> its directory under the root
    bases: list[Path]  # one directory per distinct mount (co-mounted controllers share one)
    cpuset: Path | None  # the base that is the cpuset hierarchy


# Root (and the identity of its directory) -> its layout. Finding it takes a stat and a realpath of every
# hierarchy (~100 system calls), and the runtime makes a manager for every container operation; the
# mounts under a cgroup root do not change while kubelite runs, and a root mounted anew is a new inode.
_layouts: dict[tuple[str, int, int], _Layout] = {}


def warm(root: Path) -> None:
    """Find ``root``'s layout now (the agent's zygote does, before it forks the shims that need it)."""
    if root.is_dir():
        _layout(root)


def _layout(root: Path) -> _Layout:
    st = os.stat(root)
    key = (str(root), st.st_dev, st.st_ino)
    layout = _layouts.get(key)
    if layout is None:
        found = {h: root / h for h in HIERARCHIES if (root / h).is_dir()}
        seen: dict[str, Path] = {}
        for base in found.values():
            seen.setdefault(os.path.realpath(base), base)
        cpuset_real = os.path.realpath(root / "cpuset") if "cpuset" in found else None
        cpuset = next((b for real, b in seen.items() if real == cpuset_real), None)
        layout = _layouts[key] = _Layout(found, list(seen.values()), cpuset)
    return layout


class V1Manager(TreeManager):
    def __init__(self, path: str, root: Path) -> None:
        self.path = path
        self.root = root
        self._rel = path.lstrip("/")
        self._found: _Layout | None = None

    @property
    def _layout(self) -> _Layout:
        if self._found is None:
            self._found = _layout(self.root)
        return self._found

    def _hierarchies(self) -> dict[str, Path]:
        return self._layout.found

    def paths(self) -> dict[str, Path]:
        return {h: base / self._rel for h, base in self._hierarchies().items()}

    def _bases(self) -> list[Path]:
        """One root per distinct mount (co-mounted controllers share one)."""
        return self._layout.bases

    def _dirs(self) -> list[Path]:
        return [base / self._rel for base in self._bases()]

    def _dir(self, hierarchy: str) -> Path | None:
        base = self._hierarchies().get(hierarchy)
        return base / self._rel if base is not None else None

    def _need(self, hierarchy: str) -> Path:
        d = self._dir(hierarchy)
        if d is None:
            raise SystemFailure(f"cgroup v1: the {hierarchy} hierarchy is not mounted under {self.root}")
        return d

    def create(self) -> None:
        layout = self._layout
        if not layout.found:
            raise SystemFailure(f"cgroup v1: no controller hierarchies under {self.root}")
        for base in layout.bases:
            is_cpuset = base == layout.cpuset
            leaf = base / self._rel
            if not is_cpuset and leaf.parent != base and fs.exists(leaf.parent):
                fs.mkdir(leaf)  # the usual case, the pod's cgroup there already: one mkdir, not one per level
                continue
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
