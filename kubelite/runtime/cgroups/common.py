"""What the v1 and v2 managers do the same way: listing, signalling, tearing down.

Tear-down is the part that must never leave debris, so it lives once, here:
kill everything in the cgroup's subtree, poll (bounded, with backoff) until
the kernel has emptied it, then rmdir children before parents in every
hierarchy. Only the leaf the manager names is removed, never its parents: a
parent such as /kubelite is shared by concurrent containers, and removing it
could race another container's mkdir. Whoever made a parent removes it.
"""

import errno
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from kubelite.errors import SystemFailure
from kubelite.runtime.cgroups import fs

WAIT_SECONDS = 10.0


def backoff(timeout: float = WAIT_SECONDS) -> Iterable[None]:
    """Yield until TIMEOUT passes, sleeping 1ms, 2ms, 4ms... (capped at 50ms) between rounds."""
    deadline, delay = time.monotonic() + timeout, 0.001
    while True:
        yield None
        if time.monotonic() >= deadline:
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def read_procs(directory: Path) -> list[int]:
    """The pids in one cgroup directory ([] if it is gone)."""
    try:
        text = fs.read(directory / "cgroup.procs")
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [int(line) for line in text.split() if line.strip()]


def tree_procs(directory: Path) -> list[int]:
    """The pids in DIRECTORY and all its child cgroups, sorted, without duplicates."""
    pids = set(read_procs(directory))
    for sub in fs.subdirs(directory):
        pids.update(tree_procs(sub))
    return sorted(pids)


def signal_pids(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def remove_tree(directory: Path, timeout: float = WAIT_SECONDS) -> None:
    """rmdir DIRECTORY's child cgroups, then DIRECTORY; EBUSY (tasks still exiting) is retried."""
    for sub in fs.subdirs(directory):
        remove_tree(sub, timeout)
    last: OSError | None = None
    for _ in backoff(timeout):
        try:
            fs.rmdir(directory)
            return
        except OSError as e:
            if e.errno not in (errno.EBUSY, errno.EAGAIN):
                raise SystemFailure(f"cgroup: removing {directory}: {os.strerror(e.errno or 0)}") from None
            last = e
    raise SystemFailure(f"cgroup: {directory} still busy after {timeout}s: {last}")


class TreeManager:
    """Destroy and listing, given a subclass's directories and its own kill_all."""

    path: str

    def _dirs(self) -> list[Path]:
        """The cgroup's directory in each distinct hierarchy."""
        raise NotImplementedError

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        raise NotImplementedError

    def procs(self) -> list[int]:
        pids: set[int] = set()
        for d in self._dirs():
            pids.update(read_procs(d))
        return sorted(pids)

    def _tree_procs(self) -> list[int]:
        pids: set[int] = set()
        for d in self._dirs():
            pids.update(tree_procs(d))
        return sorted(pids)

    def destroy(self) -> None:
        """SIGKILL the subtree until it is empty (bounded), then remove it in every hierarchy."""
        dirs = [d for d in self._dirs() if fs.exists(d)]
        if not dirs:
            return
        emptied = _until(lambda: not self._tree_procs(), lambda: self.kill_all(signal.SIGKILL))
        if not emptied:
            raise SystemFailure(f"cgroup {self.path}: processes {self._tree_procs()} survive SIGKILL")
        for d in dirs:
            remove_tree(d)


def _until(done: Callable[[], bool], act: Callable[[], None], timeout: float = WAIT_SECONDS) -> bool:
    """Repeat ACT until DONE (checked first) or TIMEOUT; whether DONE was reached."""
    for _ in backoff(timeout):
        if done():
            return True
        act()
    return done()
