"""v1 memory controller: limit, memory+swap, soft limit, OOM counters.

The kernel insists memory.memsw.limit_in_bytes >= memory.limit_in_bytes at
every moment, so the two are written in whichever order keeps that true on
the way from the old pair to the new one: raising memsw first when the new
memsw is above the current limit (or unlimited), else lowering the limit
first. memsw exists only with swap accounting; without it OCI's swap is moot
and skipped. The OOM killer stays enabled unless the spec disables it.
"""

from pathlib import Path

from kubelite.runtime.cgroups import fs
from kubelite.runtime.cgroups.resources import Resources
from kubelite.runtime.cgroups.types import CgroupStats

LIMIT, MEMSW = "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"


def wants(r: Resources) -> bool:
    return (
        any(v is not None for v in (r.memory_limit, r.memory_swap, r.memory_reservation, r.memory_swappiness))
        or r.disable_oom_killer
    )


def set(d: Path, r: Resources) -> None:
    limit, swap = r.memory_limit, r.memory_swap
    if limit == -1 and swap is None:
        swap = -1  # unlimited memory and swap left alone: lift memsw too, as runc does
    if not fs.exists(d / MEMSW):
        swap = None
    if limit is not None and swap is not None:
        current = fs.read_int(d / LIMIT, default=-1)
        if swap == -1 or current < swap:
            fs.write(d / MEMSW, swap)
            fs.write(d / LIMIT, limit)
        else:
            fs.write(d / LIMIT, limit)
            fs.write(d / MEMSW, swap)
    elif limit is not None:
        fs.write(d / LIMIT, limit)
    elif swap is not None:
        fs.write(d / MEMSW, swap)
    if r.memory_reservation is not None:
        fs.write(d / "memory.soft_limit_in_bytes", r.memory_reservation)
    if r.memory_swappiness is not None:
        fs.write(d / "memory.swappiness", r.memory_swappiness)
    if r.disable_oom_killer:
        fs.write(d / "memory.oom_control", 1)


def oom_kills(d: Path) -> int:
    return fs.read_keyed(d / "memory.oom_control").get("oom_kill", 0)


def stats(d: Path, st: CgroupStats) -> None:
    st.memory_usage = fs.read_int(d / "memory.usage_in_bytes")
    st.memory_limit = fs.read_limit(d / LIMIT)
    peak = fs.read_opt(d / "memory.max_usage_in_bytes")
    st.memory_max_usage = int(peak) if peak else None
    st.oom_kills = oom_kills(d)
