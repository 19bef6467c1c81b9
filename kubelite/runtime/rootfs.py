"""Building a container's filesystem view inside its new mount namespace.

Runs in the container's init process after unshare(CLONE_NEWNS) and before
pivot_root. Every mount destination is resolved inside the rootfs with symlinks
followed in the rootfs' scope (an image cannot point a mount at the host's
/etc), and every mount call goes through ``Syscalls`` so the order of
operations can be checked against a fake.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kubelite.errors import Invalid
from kubelite.runtime import syscalls as sc
from kubelite.runtime.syscalls import Syscalls

# option -> (flags to set, flags to clear); anything else is passed to the filesystem as data.
MOUNT_OPTIONS: dict[str, tuple[int, int]] = {
    "ro": (sc.MS_RDONLY, 0), "rw": (0, sc.MS_RDONLY),
    "nosuid": (sc.MS_NOSUID, 0), "suid": (0, sc.MS_NOSUID),
    "nodev": (sc.MS_NODEV, 0), "dev": (0, sc.MS_NODEV),
    "noexec": (sc.MS_NOEXEC, 0), "exec": (0, sc.MS_NOEXEC),
    "sync": (sc.MS_SYNCHRONOUS, 0), "async": (0, sc.MS_SYNCHRONOUS),
    "dirsync": (sc.MS_DIRSYNC, 0), "remount": (sc.MS_REMOUNT, 0), "mand": (sc.MS_MANDLOCK, 0),
    "nomand": (0, sc.MS_MANDLOCK), "noatime": (sc.MS_NOATIME, 0), "atime": (0, sc.MS_NOATIME),
    "nodiratime": (sc.MS_NODIRATIME, 0), "diratime": (0, sc.MS_NODIRATIME),
    "relatime": (sc.MS_RELATIME, 0), "norelatime": (0, sc.MS_RELATIME),
    "strictatime": (sc.MS_STRICTATIME, 0), "nostrictatime": (0, sc.MS_STRICTATIME),
    "lazytime": (sc.MS_LAZYTIME, 0), "nolazytime": (0, sc.MS_LAZYTIME),
    "bind": (sc.MS_BIND, 0), "rbind": (sc.MS_BIND | sc.MS_REC, 0), "nosymfollow": (sc.MS_NOSYMFOLLOW, 0),
}
PROPAGATION = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}

# (path, major, minor, mode): the devices every container gets, as runc creates them.
DEFAULT_DEVICES = [
    ("/dev/null", 1, 3, 0o666), ("/dev/zero", 1, 5, 0o666), ("/dev/full", 1, 7, 0o666),
    ("/dev/random", 1, 8, 0o666), ("/dev/urandom", 1, 9, 0o666), ("/dev/tty", 5, 0, 0o666),
]
DEV_SYMLINKS = [
    ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"), ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"), ("pts/ptmx", "/dev/ptmx"), ("/proc/kcore", "/dev/core"),
]


def parse_options(options: Iterable[str]) -> tuple[int, int, str]:
    """Mount options -> (flags, propagation flags, data string)."""
    flags, prop, data = 0, 0, []
    for opt in options:
        if opt in MOUNT_OPTIONS:
            on, off = MOUNT_OPTIONS[opt]
            flags = (flags | on) & ~off
        elif opt in PROPAGATION:
            prop |= PROPAGATION[opt]
        else:
            data.append(opt)
    return flags, prop, ",".join(data)


def secure_join(root: str, unsafe: str) -> str:
    """ROOT/UNSAFE with every symlink resolved as if ROOT were '/', so the result stays inside ROOT."""
    parts = [p for p in unsafe.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > 255:
                raise Invalid(f"too many symlinks resolving {unsafe}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _make_target(path: str, is_file: bool) -> None:
    if os.path.lexists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if is_file:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    else:
        os.makedirs(path, exist_ok=True)


class RootfsBuilder:
    """Mounts a spec's filesystems under ROOTFS, then pivots into it."""

    def __init__(self, spec: dict[str, Any], rootfs: str, sys: Syscalls = sc.SYSCALLS,
                 cgroup_version: str = "v1", in_userns: bool = False, cgroup_path: str = "",
                 before_cgroup_mount: Callable[[], None] | None = None) -> None:
        self.spec = spec
        self.rootfs = rootfs
        self.sys = sys
        self.cgroup_version = cgroup_version
        self.in_userns = in_userns
        self.cgroup_path = cgroup_path
        self.before_cgroup_mount = before_cgroup_mount
        self.linux: dict[str, Any] = spec.get("linux", {})

    def prepare(self) -> None:
        """Everything before pivot_root: propagation, the rootfs bind, mounts, /dev."""
        prop = PROPAGATION.get(self.linux.get("rootfsPropagation", ""), sc.MS_SLAVE | sc.MS_REC)
        self.sys.mount(None, "/", None, prop)
        self.sys.mount(self.rootfs, self.rootfs, None, sc.MS_BIND | sc.MS_REC)
        mounts = self.spec.get("mounts", [])
        for m in mounts:
            self.mount(m)
        if any(m["destination"] == "/dev" for m in mounts):
            self.populate_dev()

    def mount(self, m: dict[str, Any]) -> None:
        dest = secure_join(self.rootfs, m["destination"])
        flags, prop, data = parse_options(m.get("options", []))
        fstype = m.get("type") or ""
        source = m.get("source") or fstype
        if fstype == "bind" or flags & sc.MS_BIND:
            if not os.path.exists(source):
                raise Invalid(f"bind mount source does not exist: {source}")
            _make_target(dest, not os.path.isdir(source))
            self.sys.mount(source, dest, None, sc.MS_BIND | (flags & sc.MS_REC))
            # Bind mounts ignore other flags until remounted.
            extra = flags & ~(sc.MS_BIND | sc.MS_REC)
            if extra:
                self.sys.mount(None, dest, None, sc.MS_BIND | sc.MS_REMOUNT | (flags & sc.MS_REC) | extra)
        elif fstype == "cgroup":
            if self.before_cgroup_mount is not None:
                self.before_cgroup_mount()
            _make_target(dest, False)
            self.mount_cgroups(dest, flags)
        else:
            _make_target(dest, False)
            if fstype == "sysfs" and self.in_userns and not self._owns_netns():
                # sysfs cannot be mounted in a user namespace without its own netns: bind the host's.
                self.sys.mount("/sys", dest, None, sc.MS_BIND | sc.MS_REC)
                self.sys.mount(None, dest, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_REC | flags)
            else:
                self.sys.mount(source, dest, fstype, flags, data or None)
        if prop:
            self.sys.mount(None, dest, None, prop)

    def _owns_netns(self) -> bool:
        return any(ns.get("type") == "network" and not ns.get("path") for ns in self.linux.get("namespaces", []))

    def mount_cgroups(self, dest: str, flags: int) -> None:
        """The container's own cgroup view: cgroup2 on v2; on v1 a tmpfs with one mount per hierarchy."""
        ro = flags & sc.MS_RDONLY
        base = flags & (sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_RELATIME)
        if self.cgroup_version == "v2":
            self.sys.mount("cgroup2", dest, "cgroup2", base | ro)
            return
        self.sys.mount("tmpfs", dest, "tmpfs", base, "mode=755")
        for name, options in v1_hierarchies():
            sub = os.path.join(dest, name)
            os.makedirs(sub, exist_ok=True)
            if self.in_userns:
                # v1 hierarchies cannot be mounted from a user namespace: bind the container's own cgroups.
                host = os.path.join("/sys/fs/cgroup", name, self.cgroup_path.lstrip("/"))
                if os.path.isdir(host):
                    self.sys.mount(host, sub, None, sc.MS_BIND)
                    self.sys.mount(None, sub, None, sc.MS_BIND | sc.MS_REMOUNT | base | ro)
                continue
            self.sys.mount("cgroup", sub, "cgroup", base | ro, options)
        for link, target in (("cpu", "cpu,cpuacct"), ("cpuacct", "cpu,cpuacct")):
            if os.path.isdir(os.path.join(dest, target)) and not os.path.lexists(os.path.join(dest, link)):
                os.symlink(target, os.path.join(dest, link))
        if ro:
            self.sys.mount(None, dest, None, sc.MS_REMOUNT | sc.MS_RDONLY | base, "mode=755")

    def populate_dev(self) -> None:
        devices = [(d["path"], d.get("major", 0), d.get("minor", 0), d.get("fileMode", 0o666), d.get("type", "c"))
                   for d in self.linux.get("devices", [])]
        seen = {d[0] for d in devices}
        devices += [(p, ma, mi, mode, "c") for p, ma, mi, mode in DEFAULT_DEVICES if p not in seen]
        for path, major, minor, mode, kind in devices:
            target = secure_join(self.rootfs, path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if self.in_userns:
                # mknod is refused in a user namespace: bind the host's node instead.
                _make_target(target, True)
                self.sys.mount(path, target, None, sc.MS_BIND)
                continue
            if os.path.lexists(target):
                os.unlink(target)
            ftype = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}.get(kind, stat.S_IFCHR)
            old = os.umask(0)
            try:
                os.mknod(target, ftype | (mode & 0o7777), os.makedev(major, minor))
            finally:
                os.umask(old)
        for src, link in DEV_SYMLINKS:
            target = os.path.join(self.rootfs, link.lstrip("/"))
            if not os.path.lexists(target):
                os.symlink(src, target)

    def pivot(self) -> None:
        """Make ROOTFS the root and drop every trace of the host's tree."""
        os.chdir(self.rootfs)
        self.sys.pivot_root(".", ".")
        # The old root sits on top of the new one; keep unmount events away from the host, then detach it.
        self.sys.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)
        self.sys.umount(".", sc.MNT_DETACH)
        os.chdir("/")

    def finish(self) -> None:
        """After pivot_root: read-only and masked paths, then a read-only root if asked."""
        for path in self.linux.get("readonlyPaths", []):
            self.readonly(path)
        for path in self.linux.get("maskedPaths", []):
            self.mask(path)
        if self.spec.get("root", {}).get("readonly"):
            self.sys.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC)

    def readonly(self, path: str) -> None:
        if not os.path.exists(path):
            return
        self.sys.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
        self.sys.mount(None, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC
                       | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)

    def mask(self, path: str) -> None:
        if os.path.isdir(path):
            self.sys.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, None)
        elif os.path.exists(path):
            self.sys.mount("/dev/null", path, None, sc.MS_BIND)


@functools.cache
def v1_hierarchies() -> tuple[tuple[str, str], ...]:
    """(directory name, mount options) of the host's cgroup v1 hierarchies, read from /proc/self/mountinfo.

    Read once per process: the host's hierarchies do not change under a running node, and the agent's zygote
    reads them before it forks, so a container's init does not parse a mount table that grows with every
    pod on the node (its new mount namespace starts as a copy of the host's)."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] != "cgroup":
                continue
            mountpoint = fields[4]
            if not mountpoint.startswith("/sys/fs/cgroup/"):
                continue
            supers = fields[sep + 3].split(",")
            opts = [o for o in supers if o not in ("rw", "ro") and not o.startswith(("release_agent", "clone_children"))]
            out.append((Path(mountpoint).name, ",".join(opts)))
    return tuple(out)
