"""The interface the runtime core programs against, and the stats record.

``CgroupManager`` is a Protocol, not a base class: the v1 and v2 managers
share no state, only this shape, and a test double needs nothing more. A
manager is cheap and stateless beyond its path - the runtime builds a new one
from the container's state file for every verb - so nothing here may depend
on remembering what an earlier instance did.
"""

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass
class CgroupStats:
    """A snapshot of a cgroup's counters, in the same units on v1 and v2.

    Limits are None when unlimited ("max" on v2, 2**63 on v1) or not
    available; memory_max_usage is None where the kernel keeps no peak.
    """

    cpu_usage_ns: int = 0
    cpu_user_ns: int = 0
    cpu_system_ns: int = 0
    cpu_throttled_periods: int = 0
    cpu_throttled_ns: int = 0
    memory_usage: int = 0
    memory_limit: int | None = None
    memory_max_usage: int | None = None
    pids_current: int = 0
    pids_limit: int | None = None
    oom_kills: int = 0


class CgroupManager(Protocol):
    """One container's cgroup, on whichever cgroup version the host runs."""

    path: str

    def create(self) -> None:
        """Make the cgroup (and its parents) in every hierarchy; idempotent."""

    def apply(self, pid: int) -> None:
        """Move PID into the cgroup; safe to call in a freshly forked child."""

    def set(self, resources: dict[str, Any]) -> None:
        """Apply an OCI ``linux.resources`` dict; bad values raise Invalid."""

    def stats(self) -> CgroupStats: ...

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer has killed anything in this cgroup."""

    def procs(self) -> list[int]: ...

    def freeze(self) -> None: ...

    def thaw(self) -> None: ...

    def kill_all(self, sig: int = signal.SIGKILL) -> None: ...

    def destroy(self) -> None:
        """Kill everything inside, wait until empty and remove the cgroup; idempotent."""

    def paths(self) -> dict[str, Path]:
        """The cgroup's directory per hierarchy ("unified" on v2), for joining."""
