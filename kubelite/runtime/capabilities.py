"""Linux capabilities of the container process: names, the five sets, and the order to set them.

Everything here runs in the forked container init, single-threaded, right
before execve, so it is a handful of prctl(2)/capset(2) calls through ctypes
and nothing else: no parsing of anything bigger than /proc/self/status, no
subprocess, no capability library.

The order the runtime core must follow (runc's and crun's, forced by the kernel):

1. ``drop_bounding(bounding)`` while still root with a full effective set:
   PR_CAPBSET_DROP needs CAP_SETPCAP *in the effective set*, which setuid to a
   non-root user clears.
2. ``setgroups`` / ``keep_caps(True)`` / ``setresgid`` / ``setresuid``: the
   keep-caps flag keeps the *permitted* set across the uid change (the
   effective set is still emptied).
3. ``keep_caps(False)`` then ``apply(caps)``: capset(2) raises the effective,
   permitted and inheritable sets from what the permitted set kept, and the
   ambient set is raised last, because an ambient capability must already be
   both permitted and inheritable. ``apply`` drops the bounding set too, but
   only capabilities still in it, so step 1 having run makes that a no-op.
4. ``no_new_privs()`` (if asked) and seccomp, last, just before execve.

``switch_user`` bundles steps 2-3 for callers that do not need to interleave
anything else.

Capability names a kernel is too old to know (above
/proc/sys/kernel/cap_last_cap) are skipped silently, as runc does with a
warning; names no kernel knows are ``Invalid`` and are rejected before any
state changes, so a bad spec never leaves a half-privileged process.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Iterable, Mapping

from kubelite.errors import Invalid, SystemFailure

# Numbers from include/uapi/linux/capability.h; the index is the number.
NAMES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
NUMBERS: dict[str, int] = {name: i for i, name in enumerate(NAMES)}

# Docker's default set (moby oci/caps/defaults.go).
DEFAULT_CAPS: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)

# The OCI keys of process.capabilities, and the /proc/self/status line of each.
SETS: dict[str, str] = {
    "bounding": "CapBnd", "effective": "CapEff", "permitted": "CapPrm",
    "inheritable": "CapInh", "ambient": "CapAmb",
}

PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _prctl(option: int, arg2: int = 0, arg3: int = 0, what: str = "prctl") -> int:
    ret = int(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                          ctypes.c_ulong(0), ctypes.c_ulong(0)))
    if ret < 0:
        err = ctypes.get_errno()
        raise SystemFailure(f"{what}: {os.strerror(err)}")
    return ret


def normalize(name: str) -> str:
    """``"net_admin"``, ``"NET_ADMIN"`` and ``"CAP_NET_ADMIN"`` all become ``"CAP_NET_ADMIN"``."""
    upper = name.strip().upper()
    full = upper if upper.startswith("CAP_") else "CAP_" + upper
    if full not in NUMBERS:
        raise Invalid(f"unknown capability {name!r}")
    return full


def number(name: str) -> int:
    """The kernel's number for a capability name; ``Invalid`` if no kernel knows it."""
    n = NUMBERS.get(name)  # specs spell them CAP_X already: the init asks ~50 times before its exec
    return n if n is not None else NUMBERS[normalize(name)]


@functools.cache
def last_cap() -> int:
    """The highest capability number the running kernel knows (cached: it cannot change)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(NAMES) - 1


def _mask(names: Iterable[str]) -> int:
    """A bit mask of the names the running kernel supports; unknown names are Invalid."""
    top = last_cap()
    mask = 0
    for name in names:
        n = number(name)
        if n <= top:
            mask |= 1 << n
    return mask


def _names(mask: int) -> frozenset[str]:
    return frozenset(NAMES[i] for i in range(len(NAMES)) if mask >> i & 1)


def drop_bounding(keep: Iterable[str]) -> None:
    """Drop every capability not in ``keep`` from the bounding set. Needs CAP_SETPCAP effective."""
    _drop_bounding_mask(_mask(keep))


def _drop_bounding_mask(keep: int) -> None:
    for cap in range(last_cap() + 1):
        if keep >> cap & 1:
            continue
        if _prctl(PR_CAPBSET_READ, cap, what="PR_CAPBSET_READ") == 1:
            _prctl(PR_CAPBSET_DROP, cap, what=f"dropping {NAMES[cap]} from the bounding set")


def keep_caps(on: bool) -> None:
    """PR_SET_KEEPCAPS: keep the permitted set across the next setuid away from root."""
    _prctl(PR_SET_KEEPCAPS, 1 if on else 0, what="PR_SET_KEEPCAPS")


def keep_caps_for_setuid() -> None:
    """Same as ``keep_caps(True)``; named for the step it prepares."""
    keep_caps(True)


def switch_user(uid: int, gid: int, additional_gids: Iterable[int] = ()) -> None:
    """setgroups, setresgid, setresuid with keep-caps around them (step 2 of the module's order).

    Call ``drop_bounding`` before and ``apply`` after: the permitted set survives
    the switch, the effective set is empty until ``apply`` raises it again.
    """
    os.setgroups(list(additional_gids))
    keep_caps(True)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    keep_caps(False)


def _capset(effective: int, permitted: int, inheritable: int) -> None:
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for word in (0, 1):
        shift = 32 * word
        data[word].effective = (effective >> shift) & 0xFFFFFFFF
        data[word].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[word].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    if _libc.capset(ctypes.byref(header), data) != 0:
        err = ctypes.get_errno()
        raise SystemFailure(
            f"capset (effective={sorted(_names(effective))}, permitted={sorted(_names(permitted))}, "
            f"inheritable={sorted(_names(inheritable))}): {os.strerror(err)}"
        )


def apply(caps: Mapping[str, Iterable[str]]) -> None:
    """Make the five capability sets exactly what the OCI ``process.capabilities`` dict says.

    A missing list means an empty set, as in the OCI spec. All names are
    checked before the first system call. The bounding set is trimmed first
    (only capabilities still present, so this is harmless after
    ``drop_bounding``), then effective/permitted/inheritable are set with one
    capset(2), then the ambient set is cleared and raised.
    """
    for key in caps:
        if key not in SETS:
            raise Invalid(f"unknown capability set {key!r} (want one of {', '.join(SETS)})")
    masks = {key: _mask(caps.get(key) or ()) for key in SETS}
    _drop_bounding_mask(masks["bounding"])
    _capset(masks["effective"], masks["permitted"], masks["inheritable"])
    try:
        _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, what="clearing the ambient set")
    except SystemFailure:
        if masks["ambient"]:
            raise
        return  # a kernel without ambient capabilities (< 4.3) and none asked for
    # An ambient capability must be permitted and inheritable; `runc spec` lists ambient ones without
    # inheritable, and runc skips those rather than fail, so we do the same.
    raisable = masks["ambient"] & masks["permitted"] & masks["inheritable"]
    for cap in range(last_cap() + 1):
        if raisable >> cap & 1:
            _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, what=f"raising ambient {NAMES[cap]}")


def no_new_privs() -> None:
    """PR_SET_NO_NEW_PRIVS: execve never grants privileges again (setuid bits, file caps).

    Also what lets an unprivileged process install a seccomp filter.
    """
    _prctl(PR_SET_NO_NEW_PRIVS, 1, what="PR_SET_NO_NEW_PRIVS")


def has_no_new_privs() -> bool:
    return _prctl(PR_GET_NO_NEW_PRIVS, what="PR_GET_NO_NEW_PRIVS") == 1


def current(pid: int | str = "self") -> dict[str, frozenset[str]]:
    """The five sets of a process as names, keyed like the OCI dict (for tests and ``inspect``)."""
    fields = {line: key for key, line in SETS.items()}
    out: dict[str, frozenset[str]] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            label, _, value = line.partition(":")
            if label in fields:
                out[fields[label]] = _names(int(value.strip(), 16))
    return out
