"""v2 freezer: cgroup.freeze, confirmed through cgroup.events.

Writing cgroup.freeze only requests the state; the kernel reports "frozen 1"
in cgroup.events once every task in the subtree has stopped. We wait for
that (bounded), so "paused" means paused when freeze() returns.
"""

from pathlib import Path

from kubelite.errors import SystemFailure
from kubelite.runtime.cgroups import fs
from kubelite.runtime.cgroups.common import backoff


def _set(d: Path, frozen: bool, timeout: float) -> None:
    fs.write(d / "cgroup.freeze", int(frozen))
    for _ in backoff(timeout):
        if fs.read_keyed(d / "cgroup.events").get("frozen", 0) == int(frozen):
            return
    raise SystemFailure(f"cgroup: {d} did not {'freeze' if frozen else 'thaw'} within {timeout}s")


def freeze(d: Path, timeout: float = 5.0) -> None:
    try:
        _set(d, True, timeout)
    except SystemFailure:
        fs.write(d / "cgroup.freeze", 0)
        raise


def thaw(d: Path, timeout: float = 5.0) -> None:
    _set(d, False, timeout)
