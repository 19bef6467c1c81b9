"""hostPath type checks, with the kubelet's creation rules and messages.

``DirectoryOrCreate`` makes the directory and its parents (0755);
``FileOrCreate`` makes an empty file (0644) but never its parent directory, as
the Kubernetes docs warn. An empty type checks nothing: the path is bound as it
is, or created as a directory by the runtime when missing.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

_CHECKS: dict[str, tuple[Callable[[int], bool], str]] = {
    "Directory": (stat.S_ISDIR, "is not a directory"),
    "File": (stat.S_ISREG, "is not a file"),
    "Socket": (stat.S_ISSOCK, "is not a socket file"),
    "CharDevice": (stat.S_ISCHR, "is not a character device"),
    "BlockDevice": (stat.S_ISBLK, "is not a block device"),
}


def check(path: str, kind: str | None) -> None:
    """Create or verify PATH for hostPath type KIND; ValueError carries the kubelet's message."""
    if not kind:
        return
    if kind == "DirectoryOrCreate":
        if not os.path.lexists(path):
            os.makedirs(path, 0o755, exist_ok=True)
            os.chmod(path, 0o755)
            return
        kind = "Directory"
    elif kind == "FileOrCreate":
        if not os.path.lexists(path):
            try:
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
            except OSError as e:
                raise ValueError(f"open {path}: {e.strerror.lower() if e.strerror else e}") from None
            return
        kind = "File"
    if kind not in _CHECKS:
        raise ValueError(f"{kind} is an invalid volume type")
    test, complaint = _CHECKS[kind]
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = 0
    if not test(mode):
        raise ValueError(f"hostPath type check failed: {path} {complaint}")
