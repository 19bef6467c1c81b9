"""Raw readings for the Summary API: the host from /proc, a container from its cgroup, a filesystem from statvfs.

Every function here reads counters once and returns plain numbers; rates and
the Summary's shape are :mod:`.stats`' business. The node's CPU and memory
come from ``/proc`` rather than the root cgroup, so they read the same on
cgroup v1, v2 and hybrid hosts. A container's memory breakdown (working set,
RSS, page faults) comes from the ``memory.stat`` of the cgroup the runtime's
own manager names, in its v1 (``total_*``, which include descendants) or v2
spelling; usage and CPU time come from the manager's ``stats()``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from kubelite.errors import KubeliteError
from kubelite.runtime.cgroups import CgroupManager

PROC = Path("/proc")
_TICK_NS = 1_000_000_000 // (os.sysconf("SC_CLK_TCK") or 100)
# /proc/stat's cpu line: user nice system idle iowait irq softirq steal guest guest_nice. Busy time is all
# but idle and iowait; guest time is already counted in user and nice.
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)


@dataclass(frozen=True)
class Memory:
    usage: int
    working_set: int
    rss: int
    page_faults: int
    major_page_faults: int
    limit: int | None = None  # None: unlimited


@dataclass(frozen=True)
class Fs:
    capacity: int
    available: int
    used: int
    inodes: int
    inodes_free: int


@dataclass(frozen=True)
class Usage:
    """What a directory tree holds, as ``du`` counts it: allocated bytes and inodes, each inode once."""

    bytes: int
    inodes: int


@dataclass(frozen=True)
class Interface:
    name: str
    rx_bytes: int
    rx_errors: int
    tx_bytes: int
    tx_errors: int


@dataclass(frozen=True)
class ContainerReading:
    cpu_ns: int
    memory: Memory
    processes: int
    log_bytes: int


def _keyed(path: Path) -> dict[str, int]:
    """``key value`` lines (memory.stat, vmstat) as a dict; values that are not integers are skipped."""
    out: dict[str, int] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def node_cpu_ns(proc: Path = PROC) -> int:
    """CPU time the whole host has been busy since boot, in nanoseconds (all CPUs together)."""
    for line in (proc / "stat").read_text().splitlines():
        if line.startswith("cpu "):
            ticks = [int(x) for x in line.split()[1:]]
            return sum(ticks[i] for i in _BUSY_FIELDS if i < len(ticks)) * _TICK_NS
    raise KubeliteError(f"{proc / 'stat'} has no cpu line")


def boot_time(proc: Path = PROC) -> int:
    """The host's boot time, seconds since the epoch (the kubelet's node startTime)."""
    for line in (proc / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return int(line.split()[1])
    raise KubeliteError(f"{proc / 'stat'} has no btime line")


def node_memory(proc: Path = PROC) -> Memory:
    """The host's memory as the kubelet reports its root cgroup: usage counts the page cache, the working
    set leaves out the inactive file cache (what the kernel can drop first)."""
    kb = {k.rstrip(":"): v * 1024 for k, v in _keyed(proc / "meminfo").items()}
    total = kb.get("MemTotal", 0)
    usage = total - kb.get("MemFree", 0)
    working_set = max(0, usage - kb.get("Inactive(file)", 0))
    vm = _keyed(proc / "vmstat")
    return Memory(usage, working_set, kb.get("AnonPages", 0), vm.get("pgfault", 0), vm.get("pgmajfault", 0), total)


def rlimit(proc: Path = PROC) -> tuple[int, int]:
    """(pid_max, tasks now): the kubelet's rlimit.maxpid and curproc (threads count, as sysinfo's procs)."""
    maxpid = int((proc / "sys/kernel/pid_max").read_text().strip())
    # loadavg's fourth field is running/total scheduling entities: every thread on the host
    curproc = int((proc / "loadavg").read_text().split()[3].split("/")[1])
    return maxpid, curproc


def filesystem(path: str) -> Fs:
    st = os.statvfs(path)
    return Fs(capacity=st.f_blocks * st.f_frsize, available=st.f_bavail * st.f_frsize,
              used=(st.f_blocks - st.f_bfree) * st.f_frsize, inodes=st.f_files, inodes_free=st.f_ffree)


def _memory_dir(cgroup: CgroupManager) -> Path:
    paths = cgroup.paths()
    d = paths.get("memory") or paths.get("unified")
    # the runtime's readers take a missing file for zero: a cgroup removed under us would read as idle
    if d is None or not d.is_dir():
        raise KubeliteError(f"cgroup {cgroup.path} has no memory directory (the container has exited)")
    return d


def _memory_stat(d: Path) -> dict[str, int]:
    try:
        raw = _keyed(d / "memory.stat")
    except OSError:
        return {}
    if "total_rss" in raw or "total_inactive_file" in raw:  # v1: the total_ keys include child cgroups
        return {k: raw.get(f"total_{k}", raw.get(k, 0)) for k in ("inactive_file", "rss", "pgfault", "pgmajfault")}
    return {"inactive_file": raw.get("inactive_file", 0), "rss": raw.get("anon", 0),
            "pgfault": raw.get("pgfault", 0), "pgmajfault": raw.get("pgmajfault", 0)}


def container(cgroup: CgroupManager, log_path: str) -> ContainerReading:
    """One container's counters; KubeliteError or OSError when its cgroup is gone (it has just exited)."""
    d = _memory_dir(cgroup)
    st = cgroup.stats()
    ms = _memory_stat(d)
    memory = Memory(st.memory_usage, max(0, st.memory_usage - ms.get("inactive_file", 0)), ms.get("rss", 0),
                    ms.get("pgfault", 0), ms.get("pgmajfault", 0), st.memory_limit)
    try:
        log_bytes = os.stat(log_path).st_size if log_path else 0
    except OSError:
        log_bytes = 0
    return ContainerReading(st.cpu_usage_ns, memory, len(cgroup.procs()), log_bytes)


def disk_usage(root: str) -> Usage:
    """The allocated bytes (``st_blocks``) and inodes under ``root``, itself included, as the kubelet's ``du``
    measures a volume or a writable layer: symlinks not followed, other filesystems mounted below not entered,
    hard links counted once. Entries that vanish during the walk are skipped; a missing ``root`` raises."""
    top = os.lstat(root)
    seen = {top.st_ino}
    total = top.st_blocks * 512
    if not stat.S_ISDIR(top.st_mode):
        return Usage(total, 1)
    pending = [root]
    while pending:
        try:
            entries = os.scandir(pending.pop())
        except OSError:  # removed or unreadable since it was listed
            continue
        with entries:
            for e in entries:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if st.st_dev != top.st_dev or st.st_ino in seen:
                    continue
                seen.add(st.st_ino)
                total += st.st_blocks * 512
                if stat.S_ISDIR(st.st_mode):
                    pending.append(e.path)
    return Usage(total, len(seen))


def interfaces(net_dev: Path) -> list[Interface]:
    """The network interfaces of ``/proc/<pid>/net/dev`` but the loopback, as cAdvisor lists them."""
    out = []
    for line in net_dev.read_text().splitlines()[2:]:  # two header lines
        name, _, counters = line.partition(":")
        name = name.strip()
        f = counters.split()
        if not name or name == "lo" or len(f) < 16:
            continue
        # receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets errs ...
        out.append(Interface(name, int(f[0]), int(f[2]), int(f[8]), int(f[10])))
    return out


def default_interface(proc: Path = PROC) -> str:
    """The interface of the host's default IPv4 route ("" without one): the node's main network."""
    try:
        lines = (proc / "net/route").read_text().splitlines()[1:]
    except OSError:
        return ""
    for line in lines:
        f = line.split()
        if len(f) > 1 and f[1] == "00000000":
            return f[0]
    return ""
