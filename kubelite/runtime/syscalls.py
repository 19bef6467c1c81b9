"""The Linux system calls Python 3.11 has no binding for, behind one small interface.

Everything that changes the mount table or namespaces goes through a
``Syscalls`` object rather than calling libc directly, so the rootfs logic can
be exercised against a recording fake in unit tests and against the real
kernel in root tests. Errors surface as ``OSError`` with the real errno and
the arguments in the message, which is what a user needs to see when a mount
fails.
"""

from __future__ import annotations

import ctypes
import os
from typing import Protocol

# The libc this interpreter already links (find_library would run ldconfig: ~10 ms per command).
_libc = ctypes.CDLL(None, use_errno=True)

# unshare(2) / setns(2) / clone(2) flags
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

NAMESPACE_FLAGS = {
    "mount": CLONE_NEWNS,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "user": CLONE_NEWUSER,
    "pid": CLONE_NEWPID,
    "network": CLONE_NEWNET,
    "cgroup": CLONE_NEWCGROUP,
    "time": CLONE_NEWTIME,
}
# The file under /proc/PID/ns/ for each OCI namespace type.
NAMESPACE_FILES = {
    "mount": "mnt",
    "uts": "uts",
    "ipc": "ipc",
    "user": "user",
    "pid": "pid",
    "network": "net",
    "cgroup": "cgroup",
    "time": "time",
}

# mount(2) flags
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25
MNT_DETACH = 2

# prctl(2) options
PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

_SYS_pivot_root = 155  # x86_64
_SYS_pidfd_open = 434
_SYS_pidfd_send_signal = 424


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def _b(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


class Syscalls(Protocol):
    def mount(self, source: str | None, target: str, fstype: str | None, flags: int = 0,
              data: str | None = None) -> None: ...
    def umount(self, target: str, flags: int = 0) -> None: ...
    def pivot_root(self, new_root: str, put_old: str) -> None: ...
    def unshare(self, flags: int) -> None: ...
    def setns(self, fd: int, nstype: int = 0) -> None: ...
    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int: ...


class LinuxSyscalls:
    """The real kernel."""

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int = 0,
              data: str | None = None) -> None:
        _check(_libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)),
               f"mount {source or fstype} on {target}")

    def umount(self, target: str, flags: int = 0) -> None:
        _check(_libc.umount2(_b(target), ctypes.c_int(flags)), f"umount {target}")

    def pivot_root(self, new_root: str, put_old: str) -> None:
        _check(_libc.syscall(ctypes.c_long(_SYS_pivot_root), _b(new_root), _b(put_old)),
               f"pivot_root {new_root}")

    def unshare(self, flags: int) -> None:
        _check(_libc.unshare(ctypes.c_int(flags)), "unshare")

    def setns(self, fd: int, nstype: int = 0) -> None:
        _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        return _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                                  ctypes.c_ulong(arg4), ctypes.c_ulong(arg5)), f"prctl {option}")


SYSCALLS: Syscalls = LinuxSyscalls()


def set_process_name(name: str) -> None:
    """Name the current process (what ps and /proc/PID/comm show), 15 bytes at most."""
    buf = ctypes.create_string_buffer(name.encode()[:15])
    _libc.prctl(PR_SET_NAME, buf, 0, 0, 0)


def set_subreaper() -> None:
    SYSCALLS.prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_parent_death_signal(sig: int) -> None:
    SYSCALLS.prctl(PR_SET_PDEATHSIG, sig)


def pidfd_open(pid: int) -> int:
    return _check(_libc.syscall(ctypes.c_long(_SYS_pidfd_open), ctypes.c_int(pid), ctypes.c_uint(0)),
                  f"pidfd_open {pid}")


def pidfd_send_signal(pidfd: int, sig: int) -> None:
    _check(_libc.syscall(ctypes.c_long(_SYS_pidfd_send_signal), ctypes.c_int(pidfd), ctypes.c_int(sig),
                         None, ctypes.c_uint(0)), "pidfd_send_signal")
