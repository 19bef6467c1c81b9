"""Small file primitives shared by the image store and the snapshotter.

State that several kubelite processes update (image names, snapshot records)
lives in one JSON file each, changed only under an exclusive ``flock`` on a
sibling ``.lock`` file and replaced atomically (temp file + fsync + rename),
so readers never need the lock and never see half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubelite.runtime import jsonbytes


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_json(path: Path, default: dict[str, Any]) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            doc = jsonbytes.loads(f.read())
    except FileNotFoundError:
        return default
    return doc if isinstance(doc, dict) else default


def write_json(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(jsonbytes.dumps(doc, sort_keys=True, indent=True))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
