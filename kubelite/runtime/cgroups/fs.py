"""The only code that touches cgroup control files.

Every read, write, mkdir and rmdir of the managers goes through these module
functions, for two reasons: one place maps ``OSError`` to kubelite's errors
with the file name in the message, and tests can swap them (``monkeypatch``)
for a fake kernel over a tree of plain files. Writes open with ``O_TRUNC``
but never ``O_CREAT`` - like the kernel, a missing control file is an error,
never a new file - and use one ``write`` per value, which cgroupfs requires.
They are plain syscalls, safe in a freshly forked child.
"""

import errno
import os
from pathlib import Path

from kubelite.errors import Invalid, SystemFailure


def read(path: Path) -> str:
    """The file's content; OSError (FileNotFoundError...) propagates for the caller to decide."""
    with open(path) as f:
        return f.read()


def read_opt(path: Path) -> str | None:
    """The stripped content, or None when the file does not exist."""
    try:
        return read(path).strip()
    except FileNotFoundError:
        return None


def read_int(path: Path, default: int = 0) -> int:
    """An integer file; DEFAULT when it is missing or says "max"."""
    text = read_opt(path)
    if text is None or text == "" or text == "max":
        return default
    return int(text.split()[0])


def read_limit(path: Path) -> int | None:
    """A limit file: None for "max" (v2), for v1's page-rounded 2**63 and for a missing file."""
    text = read_opt(path)
    if text is None or text in ("", "max"):
        return None
    value = int(text)
    return None if value < 0 or value >= 1 << 62 else value


def read_keyed(path: Path) -> dict[str, int]:
    """A flat-keyed file ("key value" per line: memory.stat, cpu.stat, memory.events...); {} if missing."""
    text = read_opt(path)
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def raw_write(path: Path, data: str) -> None:
    """The write(2) itself; OSError propagates (tests replace this with a fake kernel)."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)


def write(path: Path, value: str | int) -> None:
    """Write VALUE to a control file in one write(2); EINVAL/ERANGE -> Invalid, other errors -> SystemFailure."""
    try:
        raw_write(path, str(value))
    except OSError as e:
        reason = os.strerror(e.errno or 0)
        if e.errno in (errno.EINVAL, errno.ERANGE):
            raise Invalid(f"cgroup: the kernel rejected {str(value)!r} for {path}: {reason}") from None
        if e.errno == errno.ENOENT:
            raise SystemFailure(f"cgroup: {path} does not exist (controller not available?)") from None
        raise SystemFailure(f"cgroup: writing {str(value)!r} to {path}: {reason}") from None


def exists(path: Path) -> bool:
    return os.path.exists(path)


def mkdir(path: Path) -> bool:
    """Create one cgroup directory; True if this call created it, False if it was there."""
    try:
        os.mkdir(path, 0o755)
        return True
    except FileExistsError:
        return False
    except OSError as e:
        raise SystemFailure(f"cgroup: creating {path}: {os.strerror(e.errno or 0)}") from None


def rmdir(path: Path) -> None:
    """Remove one (empty) cgroup directory; gone already is fine, other errors propagate as OSError."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


def subdirs(path: Path) -> list[Path]:
    """Child cgroups of PATH (directories), [] if PATH is gone."""
    try:
        return [Path(e.path) for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []
