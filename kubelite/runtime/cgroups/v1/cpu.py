"""v1 cpu controller (CFS shares, quota, period, burst) and cpuacct usage.

Period is written before quota because the kernel validates quota/period as
a pair against the parents' bandwidth; if the new period is refused with the
old quota in place, it is retried once the quota is in. cpuacct may be its
own hierarchy (as on this project's dev hosts) or co-mounted with cpu; the
manager passes whichever directory holds it.
"""

import os
from pathlib import Path

from kubelite.errors import Invalid
from kubelite.runtime.cgroups import fs
from kubelite.runtime.cgroups.resources import Resources
from kubelite.runtime.cgroups.types import CgroupStats


def wants(r: Resources) -> bool:
    return any(v is not None for v in (r.cpu_shares, r.cpu_quota, r.cpu_period, r.cpu_burst))


def set(d: Path, r: Resources) -> None:
    if r.cpu_shares is not None:
        fs.write(d / "cpu.shares", r.cpu_shares)
    period_pending = False
    if r.cpu_period is not None:
        try:
            fs.write(d / "cpu.cfs_period_us", r.cpu_period)
        except Invalid:
            period_pending = True
    if r.cpu_quota is not None:
        fs.write(d / "cpu.cfs_quota_us", r.cpu_quota)
    if period_pending:
        fs.write(d / "cpu.cfs_period_us", r.cpu_period)  # type: ignore[arg-type]
    if r.cpu_burst is not None and fs.exists(d / "cpu.cfs_burst_us"):
        fs.write(d / "cpu.cfs_burst_us", r.cpu_burst)


def stats(d: Path, st: CgroupStats) -> None:
    s = fs.read_keyed(d / "cpu.stat")
    st.cpu_throttled_periods = s.get("nr_throttled", 0)
    st.cpu_throttled_ns = s.get("throttled_time", 0)


def acct_stats(d: Path, st: CgroupStats) -> None:
    """cpuacct: total from cpuacct.usage; user/system in ns, or from USER_HZ ticks on old kernels."""
    st.cpu_usage_ns = fs.read_int(d / "cpuacct.usage")
    if fs.exists(d / "cpuacct.usage_user"):
        st.cpu_user_ns = fs.read_int(d / "cpuacct.usage_user")
        st.cpu_system_ns = fs.read_int(d / "cpuacct.usage_sys")
    else:
        ticks = fs.read_keyed(d / "cpuacct.stat")
        hz = os.sysconf("SC_CLK_TCK")
        st.cpu_user_ns = ticks.get("user", 0) * 1_000_000_000 // hz
        st.cpu_system_ns = ticks.get("system", 0) * 1_000_000_000 // hz
