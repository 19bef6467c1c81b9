"""Human-friendly resource units for the CLI (``--memory 64m``, ``--cpus 1.5``).

Kept apart from the cgroup writers so the CLI can validate flags without
touching a cgroup filesystem. Sizes use binary multiples (k = 1024), like
docker's ``--memory``; fractions are allowed and rounded down to a byte.
"""

import re

from kubelite.errors import Invalid

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_memory(s: str) -> int:
    """Bytes in S: "100", "512k", "64m", "1g", "1.5g", "64MiB"; anything else raises Invalid."""
    m = _SIZE.match(s) if isinstance(s, str) else None
    if m is None:
        raise Invalid(f"invalid memory size: {s!r}")
    number, unit = m.group(1), m.group(2).lower()
    mult = _UNITS[unit]
    value: int
    if "." in number:
        whole, _, frac = number.partition(".")
        value = int(whole or "0") * mult + (int(frac) * mult) // int("1" + "0" * len(frac))
    else:
        value = int(number) * mult
    if value <= 0:
        raise Invalid(f"invalid memory size: {s!r} (must be positive)")
    return value


def cpus_to_quota(cpus: float, period: int = 100000) -> int:
    """The CFS quota (microseconds per PERIOD) that gives CPUS worth of CPU time."""
    if isinstance(cpus, bool) or not isinstance(cpus, int | float) or cpus != cpus or cpus <= 0:
        raise Invalid(f"invalid cpu count: {cpus!r} (must be a positive number)")
    if isinstance(period, bool) or not isinstance(period, int) or not 1000 <= period <= 1_000_000:
        raise Invalid(f"invalid cpu period: {period!r} (must be 1000..1000000 microseconds)")
    quota = int(round(cpus * period))
    if quota < 1000:
        raise Invalid(f"invalid cpu count: {cpus!r} (below the kernel's 1ms minimum quota)")
    return quota
