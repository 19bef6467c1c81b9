"""Container cgroups on cgroup v1 (and hybrid) and v2 hosts.

``manager(path)`` hands the runtime a ``CgroupManager`` for the detected
version; the runtime never needs to know which one. Each version is a
subpackage with a manager and one small module per controller, sharing only
the validated OCI resources (``resources.py``), file access (``fs.py``) and
tear-down (``common.py``). See docs/cgroups.md.
"""

from pathlib import Path
from typing import Literal

from kubelite.errors import Invalid
from kubelite.runtime.cgroups.paths import ns_path, proc_cgroups
from kubelite.runtime.cgroups.types import CgroupManager, CgroupStats
from kubelite.runtime.cgroups.units import cpus_to_quota, parse_memory
from kubelite.runtime.cgroups.v1 import V1Manager
from kubelite.runtime.cgroups.v2 import V2Manager

from .paths import normalize

ROOT = Path("/sys/fs/cgroup")

__all__ = [
    "CgroupManager",
    "CgroupStats",
    "V1Manager",
    "V2Manager",
    "cpus_to_quota",
    "detect",
    "manager",
    "normalize",
    "ns_path",
    "parse_memory",
    "proc_cgroups",
]


def detect(root: Path = ROOT) -> Literal["v1", "v2"]:
    """v2 iff ROOT itself is a cgroup2 mount (it has cgroup.controllers); hybrid hosts count as v1."""
    return "v2" if (root / "cgroup.controllers").exists() else "v1"


def manager(path: str, root: Path = ROOT, version: str | None = None) -> CgroupManager:
    """The manager for OCI cgroupsPath PATH (relative paths go under /kubelite) on ROOT."""
    version = version or detect(root)
    normalized = normalize(path)
    if version == "v2":
        return V2Manager(normalized, root)
    if version == "v1":
        return V1Manager(normalized, root)
    raise Invalid(f"unknown cgroup version {version!r} (expected 'v1' or 'v2')")
