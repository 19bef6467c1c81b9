"""Kubernetes' AtomicWriter: a directory of projected files that changes all at once.

Layout, identical to the kubelet's so tools and habits carry over::

    <dir>/..2026_11_25_22_30_40.123456789/   the real files (one generation)
    <dir>/..data -> ..2026_11_25_22_30_40.123456789
    <dir>/<key>  -> ..data/<key>             one symlink per top-level name

An update writes a complete new generation, points a fresh ``..data_tmp``
symlink at it and renames that over ``..data``: rename(2) is atomic, so a reader
opening ``<dir>/<key>`` resolves either the old generation or the new one, never
a mix and never a half-written file. Then names that vanished lose their
symlinks and the old generation is removed. A write whose content (and modes)
equal what is there changes nothing, so a periodic refresh is cheap and quiet.
"""

from __future__ import annotations

import os
import random
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path

DATA = "..data"
DATA_TMP = "..data_tmp"
_MAX_NAME, _MAX_PATH = 255, 4096


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int
    uid: int | None = None  # fsUser of a service account token; None keeps the writer's


class PayloadError(ValueError):
    """A payload path the writer refuses; the message is the kubelet's."""


def validate_path(p: str) -> None:
    if p == "":
        raise PayloadError(f'invalid path: must not be empty: "{p}"')
    if p.startswith("/"):
        raise PayloadError(f"invalid path: must be relative path: {p}")
    if len(p) > _MAX_PATH:
        raise PayloadError(f"invalid path: must be less than or equal to {_MAX_PATH} characters")
    items = p.split("/")
    for item in items:
        if item == "..":
            raise PayloadError(f"invalid path: must not contain '..': {p}")
        if len(item) > _MAX_NAME:
            raise PayloadError(f"invalid path: filenames must be less than or equal to {_MAX_NAME} characters")
    if items[0].startswith("..") and len(items[0]) > 2:
        raise PayloadError(f"invalid path: must not start with '..': {p}")


def clean(p: str) -> str:
    return os.path.normpath(p)


def _existing(ts_dir: Path) -> set[str]:
    out = set()
    for base, dirs, files in os.walk(ts_dir):
        rel = os.path.relpath(base, ts_dir)
        for name in dirs + files:
            out.add(name if rel == "." else f"{rel}/{name}")
    return out


def _parents(p: str) -> set[str]:
    out = set()
    while p:
        out.add(p)
        p = os.path.dirname(p)
    return out


def _same(path: Path, proj: FileProjection, group: int | None) -> bool:
    try:
        st = path.lstat()
        return (stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == effective_mode(proj.mode, group)
                and (group is None or st.st_gid == group) and path.read_bytes() == proj.data)
    except OSError:
        return False


def effective_mode(mode: int, group: int | None, is_dir: bool = False) -> int:
    """MODE once an fsGroup owns the file: the kubelet adds group read (and x, setgid on directories)."""
    if group is None:
        return mode
    return mode | (0o2550 if is_dir else 0o440)


def _own_dir(path: Path, mode: int, group: int | None) -> None:
    if group is not None:
        os.chown(path, -1, group)
    path.chmod(effective_mode(mode, group, is_dir=True))


def _new_generation(target: Path) -> Path:
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    while True:
        d = target / f"{stamp}{random.randrange(10**9, 10**10)}"
        try:
            d.mkdir()
        except FileExistsError:
            continue
        return d


def write(target: Path, payload: dict[str, FileProjection], group: int | None = None) -> bool:
    """Make TARGET hold exactly PAYLOAD (relative path -> file); True when anything changed on disk.

    GROUP is the pod's fsGroup: every file and directory is given to it with group read access before
    the swap, so a reader never sees a generation it cannot read.
    """
    for p in payload:
        validate_path(p)
    files = {clean(p): v for p, v in payload.items()}
    target.mkdir(parents=True, exist_ok=True)
    data_link = target / DATA
    try:
        old = os.readlink(data_link)
    except FileNotFoundError:
        old = ""
    old_dir = target / old if old else None
    wanted: set[str] = set().union(*(_parents(p) for p in files)) if files else set()
    stale: set[str] = set()
    if old_dir is not None and old_dir.is_dir():
        stale = _existing(old_dir) - wanted
        if not stale and all(_same(old_dir / p, v, group) for p, v in files.items()):
            _link_visible(target, files)  # repairs a half-finished earlier write; a no-op normally
            return False

    _own_dir(target, stat.S_IMODE(target.stat().st_mode), group)
    new_dir = _new_generation(target)
    try:
        _own_dir(new_dir, 0o755, group)
        for p, proj in files.items():
            full = new_dir / p
            for parent in reversed(full.relative_to(new_dir).parents[:-1]):
                if not (new_dir / parent).is_dir():
                    (new_dir / parent).mkdir()
                    _own_dir(new_dir / parent, 0o755, group)
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, proj.mode)
            try:
                view = memoryview(proj.data)
                while view:
                    view = view[os.write(fd, view):]
                if proj.uid is not None or group is not None:
                    os.fchown(fd, -1 if proj.uid is None else proj.uid, -1 if group is None else group)
                # After chown, which clears setuid bits; and open(2) applied the umask to the mode we asked.
                os.fchmod(fd, effective_mode(proj.mode, group))
            finally:
                os.close(fd)
        tmp_link = target / DATA_TMP
        if tmp_link.is_symlink():
            tmp_link.unlink()
        os.symlink(new_dir.name, tmp_link)
        os.rename(tmp_link, data_link)
    except BaseException:
        shutil.rmtree(new_dir, ignore_errors=True)
        raise
    _link_visible(target, files)
    for p in stale:
        if "/" not in p:
            (target / p).unlink(missing_ok=True)
    for entry in os.listdir(target):
        # The previous generation, and any a crash left between writing and swapping.
        if entry.startswith("..") and entry not in (DATA, DATA_TMP, new_dir.name):
            path = target / entry
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
    return True


def _link_visible(target: Path, files: dict[str, FileProjection]) -> None:
    for top in {p.split("/")[0] for p in files}:
        link = target / top
        if not link.is_symlink():
            os.symlink(f"{DATA}/{top}", link)
