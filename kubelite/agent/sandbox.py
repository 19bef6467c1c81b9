"""Pod sandboxes: the network, IPC and UTS namespaces a pod's containers share, without a pause process.

Kubernetes keeps a pod's shared namespaces alive with a "pause" container. A
namespace lives as long as something refers to it, and a bind mount of its
``/proc/.../ns/X`` file is such a reference (what ``ip netns add`` and CRI-O's
pinns do), so a sandbox here is three bind-mounted files under
``RUN_DIR/<pod uid>/``: no process to supervise, nothing to restart, and the
sandbox survives an agent restart on its own.

The namespaces are made by a short-lived thread: ``unshare(2)`` of network, IPC
and UTS namespaces changes only the calling thread, so the agent process itself
never leaves its namespaces and need not fork. The thread sets the pod's host
name, brings the loopback up (a new network namespace starts with ``lo`` down)
and pins the three files before it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

from kubelite.errors import SystemFailure
from kubelite.runtime.syscalls import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWUTS,
    MNT_DETACH,
    MS_BIND,
    SYSCALLS,
)
from kubelite.runtime.topdir import ensure_topdir

KINDS = {"network": "net", "ipc": "ipc", "uts": "uts"}  # OCI namespace type -> /proc/self/ns name
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


@dataclass(frozen=True)
class Sandbox:
    uid: str
    dir: Path

    def path(self, kind: str) -> str:
        """The pinned namespace file for an OCI namespace type (network, ipc, uts)."""
        return str(self.dir / KINDS[kind])

    @property
    def netns(self) -> str:
        return self.path("network")

    @property
    def hosts_file(self) -> str:
        return str(self.dir / "hosts")

    @property
    def hostname_file(self) -> str:
        return str(self.dir / "hostname")

    def namespaces(self) -> dict[str, str]:
        return {kind: self.path(kind) for kind in KINDS}


class SandboxManager:
    """Create, find and remove pod sandboxes under ``root`` (a tmpfs like /run: gone at reboot, as the
    namespaces are)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, uid: str) -> Sandbox | None:
        sb = Sandbox(uid, self.root / uid)
        return sb if all(_is_pinned(sb.path(k)) for k in KINDS) else None

    def uids(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir()) if self.root.is_dir() else []

    def ensure(self, uid: str, hostname: str, hosts: str) -> Sandbox:
        """The pod's sandbox, made if missing (idempotent: a half-made one is removed and made again)."""
        existing = self.get(uid)
        if existing is not None:
            if not os.path.exists(existing.hostname_file):  # made by an agent that wrote one per container
                Path(existing.hostname_file).write_text(hostname + "\n")
            return existing
        self.remove(uid)
        sb = Sandbox(uid, self.root / uid)
        ensure_topdir(self.root)
        sb.dir.mkdir()
        try:
            Path(sb.hosts_file).write_text(hosts)
            Path(sb.hostname_file).write_text(hostname + "\n")
            for kind in KINDS:
                Path(sb.path(kind)).touch()
            _pin_in_thread(sb, hostname)
        except BaseException:
            self.remove(uid)
            raise
        return sb

    def remove(self, uid: str) -> None:
        d = self.root / uid
        if not d.exists():
            return
        for kind in KINDS.values():
            p = d / kind
            while _is_pinned(str(p)):
                try:
                    SYSCALLS.umount(str(p), MNT_DETACH)
                except OSError:
                    break
        shutil.rmtree(d, ignore_errors=True)


def _is_pinned(path: str) -> bool:
    """Whether ``path`` is a namespace file bind-mounted there (nsfs), not the empty placeholder."""
    try:
        return os.stat(path).st_dev != os.stat(os.path.dirname(path)).st_dev
    except OSError:
        return False


def _pin_in_thread(sb: Sandbox, hostname: str) -> None:
    errors: list[BaseException] = []

    def make() -> None:
        try:
            SYSCALLS.unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
            socket.sethostname(hostname)
            _loopback_up()
            tid = threading.get_native_id()
            for kind, name in KINDS.items():
                SYSCALLS.mount(f"/proc/self/task/{tid}/ns/{name}", sb.path(kind), None, MS_BIND)
        except BaseException as e:
            errors.append(e)

    # The thread ends inside the new namespaces: that is fine, they are pinned, and it is never reused.
    t = threading.Thread(target=make, name=f"sandbox-{sb.uid[:8]}")
    t.start()
    t.join()
    if errors:
        e = errors[0]
        raise SystemFailure(f"creating the pod sandbox: {e}") from e


def _loopback_up() -> None:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))
