"""v1 cpuset controller: pinning, and the empty-cpuset trap at creation.

A new v1 cpuset cgroup starts with empty cpuset.cpus and cpuset.mems, and the
kernel refuses to add a task to it (ENOSPC). So every directory on the way
down, ours or pre-existing, gets its parent's values copied in when empty,
top-down, before any process joins - what runc's ensureParent does.
"""

from pathlib import Path

from kubelite.runtime.cgroups import fs
from kubelite.runtime.cgroups.resources import Resources

FILES = ("cpuset.cpus", "cpuset.mems")


def inherit(parent: Path, child: Path) -> None:
    """Copy cpus/mems from PARENT into CHILD where CHILD's are empty."""
    for name in FILES:
        current = fs.read_opt(child / name)
        if current == "":
            value = fs.read_opt(parent / name)
            if value:
                fs.write(child / name, value)


def wants(r: Resources) -> bool:
    return r.cpu_cpus is not None or r.cpu_mems is not None


def set(d: Path, r: Resources) -> None:
    if r.cpu_cpus is not None:
        fs.write(d / "cpuset.cpus", r.cpu_cpus)
    if r.cpu_mems is not None:
        fs.write(d / "cpuset.mems", r.cpu_mems)
