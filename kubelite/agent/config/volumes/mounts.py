"""The few mount operations volumes need: tmpfs up, bind a sub path, everything under a dir down.

The truth about what is mounted is /proc/self/mountinfo, never our own
bookkeeping: after an agent restart (or a crash between mount and record) the
kernel still knows. Paths there escape space, tab, newline and backslash as
octal, which ``mounts_under`` undoes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from kubelite.runtime import syscalls as sc

_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def mount_points() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [_unescape(line.split()[4]) for line in f if line.strip()]


def mounts_under(path: Path | str) -> list[str]:
    """Mount points at or below PATH, deepest (and most recently stacked) first."""
    base = os.path.realpath(path)
    found = [m for m in mount_points() if m == base or m.startswith(base.rstrip("/") + "/")]
    return sorted(found, key=lambda m: m.count("/"), reverse=True)


def is_mount_point(path: Path | str) -> bool:
    return os.path.realpath(path) in mount_points()


def mount_tmpfs(path: Path, size: int | None = None, mode: int = 0o755) -> None:
    data = f"mode={mode:o}" + (f",size={size}" if size else "")
    sc.SYSCALLS.mount("tmpfs", str(path), "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, data)


def bind_fd(fd: int, target: Path) -> None:
    """Bind what FD refers to (opened without following symlinks) onto TARGET."""
    sc.SYSCALLS.mount(f"/proc/self/fd/{fd}", str(target), None, sc.MS_BIND)


def unmount_all(path: Path | str) -> list[str]:
    """Detach every mount at or below PATH; returns what is still mounted (should be nothing)."""
    for _ in range(3):  # stacked mounts reappear one layer at a time
        points = mounts_under(path)
        if not points:
            return []
        for m in points:
            try:
                sc.SYSCALLS.umount(m, sc.MNT_DETACH)
            except OSError:
                continue
    return mounts_under(path)
