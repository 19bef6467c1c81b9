"""The cgroup v2 manager: one directory in the unified hierarchy.

Controllers must be switched on top-down: a cgroup only has memory.max if
its parent lists memory in cgroup.subtree_control, and so on up to the root.
create() enables, in each ancestor, the controllers we use that the ancestor
offers (cgroup.controllers) and has not enabled yet - one write for all, then
one per controller if the kernel refuses the batch, so a controller the host
lacks does not block the others. The leaf itself gets no subtree_control:
v2 allows processes only in cgroups that do not distribute controllers.
"""

import signal
from pathlib import Path
from typing import Any

from kubelite.errors import KubeliteError
from kubelite.runtime.cgroups import fs, resources
from kubelite.runtime.cgroups.common import TreeManager, signal_pids
from kubelite.runtime.cgroups.types import CgroupStats
from kubelite.runtime.cgroups.v2 import cpu, cpuset, freezer, memory, pids

CONTROLLERS = ("cpuset", "cpu", "io", "memory", "pids")


def enable_controllers(d: Path) -> None:
    """Enable our CONTROLLERS for D's children, as far as D offers them."""
    offered = (fs.read_opt(d / "cgroup.controllers") or "").split()
    enabled = (fs.read_opt(d / "cgroup.subtree_control") or "").split()
    missing = [c for c in CONTROLLERS if c in offered and c not in enabled]
    if not missing:
        return
    try:
        fs.write(d / "cgroup.subtree_control", " ".join(f"+{c}" for c in missing))
    except KubeliteError:
        for c in missing:
            try:
                fs.write(d / "cgroup.subtree_control", f"+{c}")
            except KubeliteError:
                pass  # not available here; set() reports it if the spec needs it


class V2Manager(TreeManager):
    def __init__(self, path: str, root: Path) -> None:
        self.path = path
        self.root = root
        self.dir = root / path.lstrip("/")

    def paths(self) -> dict[str, Path]:
        return {"unified": self.dir}

    def _dirs(self) -> list[Path]:
        return [self.dir]

    def create(self) -> None:
        current = self.root
        for part in self.path.strip("/").split("/"):
            enable_controllers(current)
            current = current / part
            fs.mkdir(current)

    def apply(self, pid: int) -> None:
        fs.write(self.dir / "cgroup.procs", pid)

    def set(self, spec: dict[str, Any]) -> None:
        """Device rules are validated but not enforced: v2 needs an eBPF program for them (not done)."""
        r = resources.parse(spec)
        for module in (memory, cpu, cpuset, pids):
            if module.wants(r):
                module.set(self.dir, r)
        for name, value in r.unified.items():
            fs.write(self.dir / name, value)

    def stats(self) -> CgroupStats:
        st = CgroupStats()
        memory.stats(self.dir, st)
        cpu.stats(self.dir, st)
        pids.stats(self.dir, st)
        return st

    def oom_killed(self) -> bool:
        return memory.oom_kills(self.dir) > 0

    def freeze(self) -> None:
        freezer.freeze(self.dir)

    def thaw(self) -> None:
        freezer.thaw(self.dir)

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        """cgroup.kill (5.14+) kills the subtree atomically; otherwise freeze, signal each, thaw."""
        if sig == signal.SIGKILL and fs.exists(self.dir / "cgroup.kill"):
            fs.write(self.dir / "cgroup.kill", 1)
            return
        frozen = False
        was_frozen = fs.read_keyed(self.dir / "cgroup.events").get("frozen", 0) == 1
        if fs.exists(self.dir / "cgroup.freeze"):
            try:
                freezer.freeze(self.dir, timeout=1.0)
                frozen = True
            except KubeliteError:
                pass
        try:
            signal_pids(self._tree_procs(), sig)
        finally:
            if frozen and (sig == signal.SIGKILL or not was_frozen):
                freezer.thaw(self.dir)
