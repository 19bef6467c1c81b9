"""A fake cgroup kernel over plain files in a temporary directory.

The managers do all their file access through ``kubelite.runtime.cgroups.fs``;
``FakeKernel.install`` swaps those functions for ones that behave like
cgroupfs where it matters to the managers, and are plain files elsewhere:

- mkdir populates the control files of the hierarchy (v1) or of the
  controllers the parent enabled in cgroup.subtree_control (v2);
- rmdir refuses (EBUSY) while child cgroups or live processes remain;
- cgroup.procs accumulates pids and lists only live, non-zombie ones;
- cgroup.subtree_control accumulates +/- and refuses controllers not offered;
- cgroup.freeze is mirrored into cgroup.events, cgroup.kill SIGKILLs members;
- memory.limit_in_bytes / memsw enforce memsw >= limit like the kernel,
  and pids.max and freezer.state reject malformed values.
Everything else is last-write-wins, which is what the conformance tests read.
"""

import errno
import os
import signal
from pathlib import Path

import pytest

from kubelite.runtime.cgroups import fs

UNLIMITED = "9223372036854771712"
V1_FILES: dict[str, dict[str, str]] = {
    "cpu": {
        "cpu.shares": "1024",
        "cpu.cfs_period_us": "100000",
        "cpu.cfs_quota_us": "-1",
        "cpu.cfs_burst_us": "0",
        "cpu.stat": "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
    },
    "cpuacct": {
        "cpuacct.usage": "0",
        "cpuacct.usage_user": "0",
        "cpuacct.usage_sys": "0",
        "cpuacct.stat": "user 0\nsystem 0\n",
    },
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "memory": {
        "memory.limit_in_bytes": UNLIMITED,
        "memory.memsw.limit_in_bytes": UNLIMITED,
        "memory.soft_limit_in_bytes": UNLIMITED,
        "memory.usage_in_bytes": "0",
        "memory.max_usage_in_bytes": "0",
        "memory.swappiness": "60",
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
    },
    "pids": {"pids.max": "max", "pids.current": "0"},
    "freezer": {"freezer.state": "THAWED"},
    "devices": {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"},
    "blkio": {},
}
V2_CORE = {
    "cgroup.procs": "",
    "cgroup.subtree_control": "",
    "cgroup.events": "populated 0\nfrozen 0\n",
    "cgroup.freeze": "0",
    "cgroup.kill": "",
    "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
}
V2_FILES: dict[str, dict[str, str]] = {
    "cpu": {
        "cpu.weight": "100",
        "cpu.max": "max 100000",
        "cpu.max.burst": "0",
        "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\n"
        "throttled_usec 0\n",
    },
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "io": {"io.max": ""},
    "memory": {
        "memory.max": "max",
        "memory.swap.max": "max",
        "memory.low": "0",
        "memory.high": "max",
        "memory.current": "0",
        "memory.peak": "0",
        "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
    },
    "pids": {"pids.max": "max", "pids.current": "0"},
    "hugetlb": {},
}
ROOT_CONTROLLERS = "cpuset cpu io memory hugetlb pids"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


class FakeKernel:
    def __init__(self, root: Path, version: str) -> None:
        self.root, self.version = root, version
        root.mkdir(parents=True, exist_ok=True)
        if version == "v1":
            for h, files in V1_FILES.items():
                (root / h).mkdir()
                self._populate(root / h, {**files, "cgroup.procs": "", "tasks": ""})
            (root / "cpuset" / "cpuset.cpus").write_text("0-3\n")
            (root / "cpuset" / "cpuset.mems").write_text("0\n")
        else:
            self._populate(
                root,
                {
                    "cgroup.controllers": ROOT_CONTROLLERS,
                    "cgroup.procs": "",
                    "cgroup.subtree_control": "",
                    "cpu.stat": V2_CORE["cpu.stat"],
                },
            )

    @staticmethod
    def _populate(d: Path, files: dict[str, str]) -> None:
        for name, content in files.items():
            (d / name).write_text(content)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(fs, "mkdir", self.mkdir)
        monkeypatch.setattr(fs, "rmdir", self.rmdir)
        monkeypatch.setattr(fs, "raw_write", self.write)
        monkeypatch.setattr(fs, "read", self.read)

    # -- the patched operations -------------------------------------------------------------

    def mkdir(self, path: Path) -> bool:
        if path.exists():
            return False
        path.mkdir()
        if self.version == "v1":
            hierarchy = path.relative_to(self.root).parts[0]
            self._populate(path, {**V1_FILES[hierarchy], "cgroup.procs": "", "tasks": ""})
        else:
            enabled = (path.parent / "cgroup.subtree_control").read_text().split()
            files = dict(V2_CORE, **{"cgroup.controllers": " ".join(enabled)})
            for c in enabled:
                files.update(V2_FILES[c])
            self._populate(path, files)
        return True

    def rmdir(self, path: Path) -> None:
        if not path.exists():
            return
        if any(p.is_dir() for p in path.iterdir()) or self._live(path):
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(path))
        for p in path.iterdir():
            p.unlink()
        path.rmdir()

    def read(self, path: Path) -> str:
        if path.name == "cgroup.procs":
            return "".join(f"{pid}\n" for pid in self._live(path.parent))
        return path.read_text()

    def write(self, path: Path, text: str) -> None:
        name = path.name
        if not path.exists():
            self._fail(errno.ENOENT, path)
        if name == "cgroup.procs":
            if self.version == "v2" and (path.parent / "cgroup.subtree_control").read_text().split():
                self._fail(errno.EBUSY, path)  # no internal processes in v2
            pids = [p for p in path.read_text().split() if p != text] + [text]
            path.write_text("\n".join(pids) + "\n")
        elif name == "cgroup.subtree_control":
            offered = (path.parent / "cgroup.controllers").read_text().split()
            enabled = path.read_text().split()
            for token in text.split():
                if token[1:] not in offered or token[0] not in "+-":
                    self._fail(errno.EINVAL, path)
                enabled = [c for c in enabled if c != token[1:]] + ([token[1:]] if token[0] == "+" else [])
            path.write_text(" ".join(enabled))
        elif name == "cgroup.freeze":
            path.write_text(text)
            (path.parent / "cgroup.events").write_text(f"populated 0\nfrozen {int(text)}\n")
        elif name == "cgroup.kill":
            for pid in self._live(path.parent):
                os.kill(pid, signal.SIGKILL)
        elif name == "freezer.state" and text not in ("FROZEN", "THAWED"):
            self._fail(errno.EINVAL, path)
        elif name == "pids.max" and text != "max" and not (text.isdigit() and int(text) > 0):
            self._fail(errno.EINVAL, path)
        elif name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):
            limit = self._bytes(path.parent / "memory.limit_in_bytes")
            memsw = self._bytes(path.parent / "memory.memsw.limit_in_bytes")
            new = self._bytes_of(text)
            if (name == "memory.limit_in_bytes" and new > memsw) or (
                name != "memory.limit_in_bytes" and new < limit
            ):
                self._fail(errno.EINVAL, path)
            path.write_text(UNLIMITED if new == 1 << 63 else text)
        else:
            path.write_text(text)

    # -- helpers ---------------------------------------------------------------------------

    def _live(self, d: Path) -> list[int]:
        procs = d / "cgroup.procs"
        text = procs.read_text() if procs.exists() else ""
        return [int(p) for p in text.split() if _alive(int(p))]

    @staticmethod
    def _fail(code: int, path: Path) -> None:
        raise OSError(code, os.strerror(code), str(path))

    @classmethod
    def _bytes(cls, path: Path) -> int:
        return cls._bytes_of(path.read_text().strip()) if path.exists() else 1 << 63

    @staticmethod
    def _bytes_of(text: str) -> int:
        value = int(text)
        return 1 << 63 if value == -1 or value >= int(UNLIMITED) else value

    def set_file(self, path: Path, content: str) -> None:
        """Play the kernel: update a read-only counter (usage, stats, events)."""
        path.write_text(content)
