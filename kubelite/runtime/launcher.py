"""Forking a container into existence from an already-warm Python process.

Two forks, like runc's init stages: the first child joins the
namespaces (unshare affects only the children of the caller for PID
namespaces), the second is PID 1 of the container and runs ``container_init``.
The first child then exits, so the container is re-parented to the nearest
subreaper: the shim that supervises it, or whoever drives the OCI CLI. No new
interpreter is started on this path: the cost is two forks and the syscalls.

A caller that exists only for this container (a shim) may let it be created
``in_place``: the caller itself enters the PID (and time) namespace, the two
kinds that take effect for children only, and forks the init directly, which
joins and creates every other namespace itself. One fork less per container: a
fork of a Python process and its exit cost more CPU (copy-on-write faults,
page tables) than anything else the runtime does for a start. Not for user
namespaces (the mappings need a process outside them) nor for callers that
fork anything else later, which would land in the container's PID namespace.

Parent and children talk over a SOCK_SEQPACKET pair: one JSON message per
packet, file descriptors (the console master) riding along.
"""

from __future__ import annotations

import gc
import json
import os
import socket
from dataclasses import dataclass
from typing import Any

from kubelite.errors import SystemFailure
from kubelite.runtime import spec as oci
from kubelite.runtime import syscalls as sc
from kubelite.runtime.cgroups import CgroupManager
from kubelite.runtime.init import InitConfig, container_init, reset_signals, send

# Join order matters: the user namespace first (it owns the others), mount last (it changes our view of /proc).
JOIN_ORDER = ["user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount"]


@dataclass
class Launched:
    pid: int
    console_fd: int | None = None


def launch(spec: dict[str, Any], rootfs: str, *, cgroup: CgroupManager | None, cgroup_version: str,
           stdio: tuple[int, int, int] | None = None, exec_fifo: str | None = None,
           seccomp_program: Any = None, timeout: float = 60.0, in_place: bool = False) -> Launched:
    namespaces = oci.namespaces(spec)
    new_flags = 0
    for kind, path in namespaces.items():
        if path is None and kind not in ("user", "cgroup"):
            new_flags |= sc.NAMESPACE_FLAGS[kind]
    # The init creates its cgroup namespace itself, once we have moved it into its cgroup: a cgroup
    # namespace is rooted where its creator stands.
    new_cgroupns = "cgroup" in namespaces and namespaces["cgroup"] is None
    new_user = "user" in namespaces and namespaces["user"] is None
    joins = [(k, namespaces[k]) for k in JOIN_ORDER if namespaces.get(k)]

    new_mount_ns = "mount" in namespaces and namespaces["mount"] is None
    direct = in_place and not new_user and "user" not in namespaces
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    if direct:
        pid = _fork_init_here(spec, rootfs, child_sock, parent_sock, cgroup, cgroup_version, stdio, exec_fifo,
                              seccomp_program, new_flags, joins, new_mount_ns, new_cgroupns)
    else:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            parent_sock.close()
            _first_child(spec, rootfs, child_sock, cgroup, cgroup_version, stdio, exec_fifo, seccomp_program,
                         new_flags, new_user, joins, new_mount_ns, new_cgroupns)
    child_sock.close()
    parent_sock.settimeout(timeout)
    init_pid = 0
    console: int | None = None
    ready = False
    try:
        if direct:
            init_pid = pid
            _place(cgroup, init_pid, parent_sock)
        while not (ready and init_pid):
            msg, fds = _recv(parent_sock)
            if msg is None:
                raise SystemFailure("container init exited before it was ready")
            if "error" in msg:
                raise SystemFailure(msg["error"])
            if "userns" in msg:
                _write_id_maps(pid, spec)
                send(parent_sock, {"mapped": True})
            elif "pid" in msg:
                init_pid = int(msg["pid"])
                _place(cgroup, init_pid, parent_sock)
            elif "console" in msg:
                console = fds[0] if fds else None
            elif msg.get("ready"):
                ready = True
    except TimeoutError:
        raise SystemFailure("container init did not become ready in time") from None
    except BaseException:
        if init_pid:
            _kill(init_pid)
        if console is not None:
            os.close(console)
        raise
    finally:
        parent_sock.close()
        if not direct:
            _reap(pid)  # the first child; a direct init is the caller's to wait for
    return Launched(pid=init_pid, console_fd=console)


def _place(cgroup: CgroupManager | None, init_pid: int, sock: socket.socket) -> None:
    # Moving a process into a fresh v1 cgroup waits for an RCU grace period (~10 ms here);
    # the init builds its rootfs meanwhile and waits for this message only before it needs it.
    if cgroup is not None:
        cgroup.apply(init_pid)
    send(sock, {"cgroup": True})


def _recv(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(sock, 65536, 4)
    if not data:
        return None, []
    return json.loads(data), list(fds)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _write_id_maps(pid: int, spec: dict[str, Any]) -> None:
    linux = spec.get("linux", {})
    for kind in ("uid", "gid"):
        mappings = linux.get(f"{kind}Mappings") or [{"containerID": 0, "hostID": 0, "size": 1}]
        text = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in mappings)
        with open(f"/proc/{pid}/{kind}_map", "w") as f:
            f.write(text)


def close_other_fds(keep: set[int]) -> None:
    """Close everything but stdio and KEEP in a freshly forked child.

    The caller's descriptors (a shim's readiness pipe, a server's sockets) must not be held open by a
    container that has not exec'd yet. The garbage collector is stopped first: a finalizer of an object
    whose descriptor we closed here must not close a reused number later.
    """
    gc.disable()
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


# The namespaces that setns/unshare change for the caller's children only, not for the caller.
_CHILDREN_ONLY = frozenset({"pid", "time"})
_CHILDREN_ONLY_FLAGS = sc.CLONE_NEWPID | sc.CLONE_NEWTIME


def _join(kind: str, path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        sc.SYSCALLS.setns(fd, sc.NAMESPACE_FLAGS[kind])
    except OSError as e:
        raise OSError(e.errno, f"joining {kind} namespace {path}: {os.strerror(e.errno or 0)}") from None
    finally:
        os.close(fd)


def _child_stdio_and_signals(stdio: tuple[int, int, int] | None, sock: socket.socket) -> None:
    """In a forked child on its way to the container: its stdio in place, nothing else of the caller's open
    but the sync socket, default signal dispositions."""
    if stdio is not None:
        for target, fd in enumerate(stdio):
            if fd != target:
                os.dup2(fd, target)
    close_other_fds(keep={sock.fileno()})
    reset_signals()


def _fork_init_here(spec: dict[str, Any], rootfs: str, sock: socket.socket, parent_sock: socket.socket,
                    cgroup: CgroupManager | None, cgroup_version: str, stdio: tuple[int, int, int] | None,
                    exec_fifo: str | None, seccomp_program: Any, new_flags: int,
                    joins: list[tuple[str, str | None]], new_mount_ns: bool, new_cgroupns: bool) -> int:
    """Fork the container's init from this very process (see ``in_place``); returns its pid."""
    here = [(k, p) for k, p in joins if k in _CHILDREN_ONLY]
    for kind, path in here:
        assert path is not None
        _join(kind, path)
    flags_here = new_flags & _CHILDREN_ONLY_FLAGS
    if flags_here:
        sc.SYSCALLS.unshare(flags_here)
    pid = os.fork()
    if pid:
        return pid
    try:  # pragma: no cover - runs in the child, which becomes the container
        parent_sock.close()
        _child_stdio_and_signals(stdio, sock)
        for kind, path in joins:
            if kind not in _CHILDREN_ONLY:
                assert path is not None
                _join(kind, path)
        if new_flags & ~flags_here:
            sc.SYSCALLS.unshare(new_flags & ~flags_here)
    except BaseException as e:  # noqa: BLE001 - report, never raise out of a forked child
        try:
            send(sock, {"error": str(e)})
        finally:
            os._exit(1)
    container_init(InitConfig(spec=spec, rootfs=rootfs, sync=sock, cgroup_version=cgroup_version,
                              new_mount_ns=new_mount_ns, in_userns=False, exec_fifo=exec_fifo,
                              seccomp_program=seccomp_program, cgroup_path=cgroup.path if cgroup is not None else "",
                              new_cgroupns=new_cgroupns))
    os._exit(1)  # pragma: no cover - container_init never returns


def _first_child(spec: dict[str, Any], rootfs: str, sock: socket.socket, cgroup: CgroupManager | None,
                 cgroup_version: str, stdio: tuple[int, int, int] | None, exec_fifo: str | None,
                 seccomp_program: Any, new_flags: int, new_user: bool, joins: list[tuple[str, str | None]],
                 new_mount_ns: bool, new_cgroupns: bool) -> None:
    try:
        _child_stdio_and_signals(stdio, sock)
        in_userns = new_user
        for kind, path in joins:
            assert path is not None
            _join(kind, path)
            in_userns = in_userns or kind == "user"
        if new_user:
            sc.SYSCALLS.unshare(sc.CLONE_NEWUSER)
            send(sock, {"userns": True})
            msg, _ = _recv(sock)
            if not msg or not msg.get("mapped"):
                os._exit(1)
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        sc.SYSCALLS.unshare(new_flags)
        pid = os.fork()
        if pid == 0:
            container_init(InitConfig(spec=spec, rootfs=rootfs, sync=sock, cgroup_version=cgroup_version,
                                      new_mount_ns=new_mount_ns, in_userns=in_userns, exec_fifo=exec_fifo,
                                      seccomp_program=seccomp_program,
                                      cgroup_path=cgroup.path if cgroup is not None else "",
                                      new_cgroupns=new_cgroupns))
        send(sock, {"pid": pid})
    except BaseException as e:  # noqa: BLE001 - report, never raise out of a forked child
        try:
            send(sock, {"error": str(e)})
        finally:
            os._exit(1)
    os._exit(0)


