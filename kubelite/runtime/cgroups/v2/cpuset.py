"""v2 cpuset controller: cpuset.cpus / cpuset.mems.

Unlike v1, an empty v2 cpuset means "inherit the parent's effective set", so
nothing has to be copied down at creation.
"""

from pathlib import Path

from kubelite.runtime.cgroups import fs
from kubelite.runtime.cgroups.resources import Resources


def wants(r: Resources) -> bool:
    return r.cpu_cpus is not None or r.cpu_mems is not None


def set(d: Path, r: Resources) -> None:
    if r.cpu_cpus is not None:
        fs.write(d / "cpuset.cpus", r.cpu_cpus)
    if r.cpu_mems is not None:
        fs.write(d / "cpuset.mems", r.cpu_mems)
