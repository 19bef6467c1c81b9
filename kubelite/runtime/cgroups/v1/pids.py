"""v1 pids controller: pids.max ("max" for unlimited) and pids.current."""

from pathlib import Path

from kubelite.runtime.cgroups import fs
from kubelite.runtime.cgroups.resources import Resources
from kubelite.runtime.cgroups.types import CgroupStats


def wants(r: Resources) -> bool:
    return r.pids_limit is not None


def limit_value(limit: int) -> str:
    return "max" if limit <= 0 else str(limit)


def set(d: Path, r: Resources) -> None:
    if r.pids_limit is not None:
        fs.write(d / "pids.max", limit_value(r.pids_limit))


def stats(d: Path, st: CgroupStats) -> None:
    st.pids_current = fs.read_int(d / "pids.current")
    st.pids_limit = fs.read_limit(d / "pids.max")
