"""v1 freezer: freezer.state FROZEN / THAWED.

Freezing is asynchronous: the state reads FREEZING until every task has
stopped, and can stall while a task sits in an uninterruptible sleep. We
re-request FROZEN while polling (as runc does) and give up after a bound,
thawing again so a failed freeze never leaves the container half-stopped.
"""

from pathlib import Path

from kubelite.errors import SystemFailure
from kubelite.runtime.cgroups import fs
from kubelite.runtime.cgroups.common import backoff

STATE = "freezer.state"


def freeze(d: Path, timeout: float = 5.0) -> None:
    for _ in backoff(timeout):
        fs.write(d / STATE, "FROZEN")
        if fs.read_opt(d / STATE) == "FROZEN":
            return
    thaw(d)
    raise SystemFailure(f"cgroup: {d} did not freeze within {timeout}s")


def thaw(d: Path) -> None:
    fs.write(d / STATE, "THAWED")


def state(d: Path) -> str:
    return fs.read_opt(d / STATE) or "THAWED"
