"""OCI ``linux.resources`` -> typed, validated values, shared by v1 and v2.

Validation happens once, before any file is written, so a bad spec never
leaves a half-configured cgroup. The OCI conventions are normalised here the
way runc does: 0 means "not set" (None) for sizes, shares, quota and period;
-1 means unlimited; a pids limit of 0 or below is unlimited (-1). Unknown keys
are ignored, as the runtime-spec asks of settings a runtime does not support.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from kubelite.errors import Invalid

_CPU_LIST = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")


@dataclass(frozen=True)
class Device:
    """One device cgroup rule: allow/deny TYPE (a, b, c) MAJOR:MINOR (None = *) ACCESS (rwm)."""

    allow: bool
    type: str = "a"
    major: int | None = None
    minor: int | None = None
    access: str = "rwm"

    def rule(self) -> str:
        def num(n: int | None) -> str:
            return "*" if n is None else str(n)

        return f"{self.type} {num(self.major)}:{num(self.minor)} {self.access}"


@dataclass(frozen=True)
class Resources:
    memory_limit: int | None = None
    memory_reservation: int | None = None
    memory_swap: int | None = None
    memory_swappiness: int | None = None
    disable_oom_killer: bool = False
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpu_burst: int | None = None
    cpu_cpus: str | None = None
    cpu_mems: str | None = None
    pids_limit: int | None = None
    devices: tuple[Device, ...] | None = None
    unified: dict[str, str] = field(default_factory=dict)


def _int(section: dict[str, Any], key: str, where: str) -> int | None:
    value = section.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"linux.resources.{where}.{key}: expected an integer, got {value!r}")
    return value


def _size(section: dict[str, Any], key: str, where: str) -> int | None:
    """A byte count or count: None when absent or 0, -1 for unlimited; other negatives are Invalid."""
    value = _int(section, key, where)
    if value is None or value == 0:
        return None
    if value < -1:
        raise Invalid(f"linux.resources.{where}.{key}: {value} is negative (use -1 for unlimited)")
    return value


def _dict(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"linux.resources.{key}: expected an object, got {type(value).__name__}")
    return value


def _cpu_list(cpu: dict[str, Any], key: str) -> str | None:
    value = cpu.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _CPU_LIST.match(value.replace(" ", "")):
        raise Invalid(f"linux.resources.cpu.{key}: {value!r} is not a list like '0-2,4'")
    return value.replace(" ", "")


def _devices(raw: Any) -> tuple[Device, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise Invalid("linux.resources.devices: expected a list")
    out = []
    for d in raw:
        if not isinstance(d, dict) or not isinstance(d.get("allow"), bool):
            raise Invalid(f"linux.resources.devices: rule {d!r} needs a boolean 'allow'")
        kind, access = d.get("type") or "a", d.get("access") or "rwm"
        major, minor = d.get("major"), d.get("minor")
        if (
            kind not in ("a", "b", "c")
            or not isinstance(access, str)
            or not access
            or set(access) - set("rwm")
        ):
            raise Invalid(f"linux.resources.devices: bad type or access in {d!r}")
        for n in (major, minor):
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < -1):
                raise Invalid(f"linux.resources.devices: bad major/minor in {d!r}")
        out.append(
            Device(
                d["allow"],
                kind,
                None if major in (None, -1) else major,
                None if minor in (None, -1) else minor,
                access,
            )
        )
    return tuple(out)


def parse(resources: dict[str, Any] | None) -> Resources:
    """Validate an OCI ``linux.resources`` dict; raises Invalid naming the offending field."""
    res = resources or {}
    if not isinstance(res, dict):
        raise Invalid("linux.resources: expected an object")
    mem, cpu, pids = _dict(res, "memory"), _dict(res, "cpu"), _dict(res, "pids")
    limit, swap = _size(mem, "limit", "memory"), _size(mem, "swap", "memory")
    if limit is not None and swap is not None and limit > 0 and 0 < swap < limit:
        raise Invalid(
            f"linux.resources.memory.swap ({swap}) must be >= memory.limit ({limit}): it is memory+swap"
        )
    swappiness = _int(mem, "swappiness", "memory")
    if swappiness is not None and not 0 <= swappiness <= 100:
        raise Invalid(f"linux.resources.memory.swappiness: {swappiness} is not in 0..100")
    disable_oom = mem.get("disableOOMKiller", False)
    if not isinstance(disable_oom, bool):
        raise Invalid("linux.resources.memory.disableOOMKiller: expected a boolean")
    shares = _size(cpu, "shares", "cpu")
    if shares == -1:
        raise Invalid("linux.resources.cpu.shares: must be positive")
    quota, period, burst = _size(cpu, "quota", "cpu"), _size(cpu, "period", "cpu"), _int(cpu, "burst", "cpu")
    if period is not None and not 1000 <= period <= 1_000_000:
        raise Invalid(f"linux.resources.cpu.period: {period} is not in 1000..1000000 microseconds")
    if quota is not None and 0 < quota < 1000:
        raise Invalid(f"linux.resources.cpu.quota: {quota} is below the kernel's 1000 microseconds")
    if burst is not None and burst < 0:
        raise Invalid(f"linux.resources.cpu.burst: {burst} is negative")
    pids_limit = _int(pids, "limit", "pids")
    if pids_limit is not None and pids_limit <= 0:
        pids_limit = -1
    unified = res.get("unified") or {}
    if not isinstance(unified, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and "/" not in k and not k.startswith(".")
        for k, v in unified.items()
    ):
        raise Invalid("linux.resources.unified: expected {control-file-name: string value}")
    return Resources(
        memory_limit=limit,
        memory_reservation=_size(mem, "reservation", "memory"),
        memory_swap=swap,
        memory_swappiness=swappiness,
        disable_oom_killer=disable_oom,
        cpu_shares=None if shares is None else min(max(shares, 2), 262144),
        cpu_quota=quota,
        cpu_period=period,
        cpu_burst=burst,
        cpu_cpus=_cpu_list(cpu, "cpus"),
        cpu_mems=_cpu_list(cpu, "mems"),
        pids_limit=pids_limit,
        devices=_devices(res.get("devices")),
        unified=dict(unified),
    )
