"""v2 cpu controller: cpu.weight from shares, cpu.max from quota/period.

Shares (v1's 2..262144) map linearly onto weight (1..10000) with runc's
formula, so the same spec gives the same relative weights on both versions
and other runtimes' containers on the host. cpu.max is "QUOTA PERIOD", with
"max" for no quota; a period alone still writes "max PERIOD", as runc does.
cpu.max.burst must stay <= the quota, so it is retried after cpu.max when
the kernel refuses it against the old quota.
"""

from pathlib import Path

from kubelite.errors import Invalid
from kubelite.runtime.cgroups import fs
from kubelite.runtime.cgroups.resources import Resources
from kubelite.runtime.cgroups.types import CgroupStats


def shares_to_weight(shares: int) -> int:
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def max_value(quota: int | None, period: int | None) -> str | None:
    if quota is None and period is None:
        return None
    value = str(quota) if quota is not None and quota > 0 else "max"
    return f"{value} {period}" if period is not None else value


def wants(r: Resources) -> bool:
    return any(v is not None for v in (r.cpu_shares, r.cpu_quota, r.cpu_period, r.cpu_burst))


def set(d: Path, r: Resources) -> None:
    if r.cpu_shares is not None:
        fs.write(d / "cpu.weight", shares_to_weight(r.cpu_shares))
    burst_pending = False
    if r.cpu_burst is not None:
        try:
            fs.write(d / "cpu.max.burst", r.cpu_burst)
        except Invalid:
            burst_pending = True
    cpu_max = max_value(r.cpu_quota, r.cpu_period)
    if cpu_max is not None:
        fs.write(d / "cpu.max", cpu_max)
    if burst_pending:
        fs.write(d / "cpu.max.burst", r.cpu_burst)  # type: ignore[arg-type]


def stats(d: Path, st: CgroupStats) -> None:
    s = fs.read_keyed(d / "cpu.stat")
    st.cpu_usage_ns = s.get("usage_usec", 0) * 1000
    st.cpu_user_ns = s.get("user_usec", 0) * 1000
    st.cpu_system_ns = s.get("system_usec", 0) * 1000
    st.cpu_throttled_periods = s.get("nr_throttled", 0)
    st.cpu_throttled_ns = s.get("throttled_usec", 0) * 1000
