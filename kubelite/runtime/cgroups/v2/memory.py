"""v2 memory controller: memory.max, memory.swap.max, memory.low, OOM events.

OCI speaks v1: ``swap`` is memory+swap. v2's memory.swap.max is swap alone,
so it becomes swap - limit (runc's conversion): -1 stays "max", a limit of
-1 with no swap lifts swap too, and swap without a memory limit is refused.
Kernels built without swap have no memory.swap.max; there, "max" and "0"
are no-ops and silently skipped, any other swap limit is an error.
"""

from pathlib import Path

from kubelite.errors import Invalid, SystemFailure
from kubelite.runtime.cgroups import fs
from kubelite.runtime.cgroups.resources import Resources
from kubelite.runtime.cgroups.types import CgroupStats


def wants(r: Resources) -> bool:
    return any(v is not None for v in (r.memory_limit, r.memory_swap, r.memory_reservation))


def limit_value(n: int) -> str:
    return "max" if n == -1 else str(n)


def swap_max(swap: int | None, limit: int | None) -> str | None:
    """memory.swap.max for OCI (swap, limit); None when nothing should be written."""
    if swap is None:
        return "max" if limit == -1 else None
    if swap == -1:
        return "max"
    if limit is None or limit == -1:
        raise Invalid("linux.resources.memory.swap: a swap limit needs a memory limit on cgroup v2")
    if swap < limit:
        raise Invalid(f"linux.resources.memory.swap ({swap}) must be >= memory.limit ({limit})")
    return str(swap - limit)


def set(d: Path, r: Resources) -> None:
    swap = swap_max(r.memory_swap, r.memory_limit)
    if swap is not None:
        if fs.exists(d / "memory.swap.max"):
            fs.write(d / "memory.swap.max", swap)
        elif swap not in ("max", "0"):
            raise SystemFailure(f"cgroup: {d}/memory.swap.max missing: this kernel has no swap accounting")
    if r.memory_limit is not None:
        fs.write(d / "memory.max", limit_value(r.memory_limit))
    if r.memory_reservation is not None:
        fs.write(d / "memory.low", limit_value(r.memory_reservation))


def oom_kills(d: Path) -> int:
    return fs.read_keyed(d / "memory.events").get("oom_kill", 0)


def stats(d: Path, st: CgroupStats) -> None:
    st.memory_usage = fs.read_int(d / "memory.current")
    st.memory_limit = fs.read_limit(d / "memory.max")
    peak = fs.read_opt(d / "memory.peak")
    st.memory_max_usage = int(peak) if peak else None
    st.oom_kills = oom_kills(d)
