"""v2 pids controller: pids.max ("max" for unlimited) and pids.current."""

from pathlib import Path

from kubelite.runtime.cgroups import fs
from kubelite.runtime.cgroups.resources import Resources
from kubelite.runtime.cgroups.types import CgroupStats


def wants(r: Resources) -> bool:
    return r.pids_limit is not None


def set(d: Path, r: Resources) -> None:
    if r.pids_limit is not None:
        fs.write(d / "pids.max", "max" if r.pids_limit <= 0 else str(r.pids_limit))


def stats(d: Path, st: CgroupStats) -> None:
    st.pids_current = fs.read_int(d / "pids.current")
    st.pids_limit = fs.read_limit(d / "pids.max")
