"""Running another process inside a live container (runc exec, docker exec).

The caller forks; the child joins the container's cgroup, then each of its
namespaces through /proc/PID/ns (all opened before any setns, since joining
the mount namespace changes what /proc shows), and forks once more so the new
PID namespace applies. The grandchild takes the process spec's credentials,
capabilities and seccomp filter, exactly as the container's init did, and
execs. The middle process waits and exits with the grandchild's status, so the
caller sees the exec'd program's exit code as its own child's.
"""

from __future__ import annotations

import functools
import os
import socket
from typing import Any

from kubelite.errors import Conflict, NotFound, SystemFailure
from kubelite.runtime import syscalls as sc
from kubelite.runtime.cgroups import CgroupManager
from kubelite.runtime.init import _setup_terminal_fd, become, early_seccomp, exec_process, reset_signals, send
from kubelite.runtime.launcher import _recv, close_other_fds
from kubelite.runtime.spec import env_dict
from kubelite.runtime.state import ContainerState, Status

NS_ORDER = ["user", "ipc", "uts", "network", "pid", "cgroup", "mount"]


def merge_process(base: dict[str, Any], args: list[str], env: list[str] | None = None, cwd: str | None = None,
                  user: dict[str, Any] | None = None, terminal: bool = False) -> dict[str, Any]:
    """A process spec for exec: the container's own, with the given command, extra env, cwd and user."""
    proc = dict(base)
    proc["args"] = args
    if env:
        merged = env_dict(base.get("env", []))
        merged.update(env_dict(env))
        proc["env"] = [f"{k}={v}" for k, v in merged.items()]
    if cwd:
        proc["cwd"] = cwd
    if user is not None:
        proc["user"] = user
    proc["terminal"] = terminal
    return proc


def spawn(st: ContainerState, process: dict[str, Any], cgroup: CgroupManager,
          stdio: tuple[int, int, int] | None = None,
          seccomp_program: Any = None) -> tuple[int, int | None]:
    """Start PROCESS in ST's container. Returns (pid of the waiting middle process, pty master or None)."""
    status = st.status()
    if status not in (Status.RUNNING, Status.CREATED):
        raise Conflict(f"cannot exec in a container that is {status.value}")
    ns_fds: list[tuple[str, int]] = []
    try:
        for kind in NS_ORDER:
            path = f"/proc/{st.pid}/ns/{sc.NAMESPACE_FILES[kind]}"
            try:
                if os.readlink(path) == os.readlink(f"/proc/self/ns/{sc.NAMESPACE_FILES[kind]}"):
                    continue  # shared with the host (or us): nothing to join
                ns_fds.append((kind, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
            except FileNotFoundError:
                raise NotFound(f"container {st.id!r} is gone") from None
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            parent_sock.close()
            _middle(st, process, cgroup, stdio, ns_fds, child_sock, seccomp_program)
        child_sock.close()
    finally:
        for _, fd in ns_fds:
            os.close(fd)
    console = None
    try:
        while True:
            msg, fds = _recv(parent_sock)
            if msg is None:
                raise SystemFailure("exec: the process died before it started")
            if "error" in msg:
                os.waitpid(pid, 0)
                raise SystemFailure(msg["error"])
            if "console" in msg:
                console = fds[0]
            if msg.get("ready"):
                break
    finally:
        parent_sock.close()
    return pid, console


def _middle(st: ContainerState, process: dict[str, Any], cgroup: CgroupManager,
            stdio: tuple[int, int, int] | None, ns_fds: list[tuple[str, int]], sock: socket.socket,
            seccomp_program: Any) -> None:
    try:
        if stdio is not None:
            for target, fd in enumerate(stdio):
                if fd != target:
                    os.dup2(fd, target)
        close_other_fds(keep={sock.fileno(), *(fd for _, fd in ns_fds)})
        reset_signals()
        cgroup.apply(os.getpid())
        for kind, fd in ns_fds:
            sc.SYSCALLS.setns(fd, sc.NAMESPACE_FLAGS[kind])
        pid = os.fork()
        if pid == 0:
            _exec(process, sock, seccomp_program)
        sock.close()
    except BaseException as e:  # noqa: BLE001
        try:
            send(sock, {"error": f"exec failed: {e}"})
        finally:
            os._exit(1)
    _wait_and_mirror(pid)


def _wait_and_mirror(pid: int) -> None:
    """Exit the way the child exited."""
    import signal

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(s, functools.partial(_forward_handler, pid))
    os._exit(wait(pid))


def _forward_handler(pid: int, signum: int, _frame: object) -> None:
    _forward(pid, signum)


def _forward(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _exec(process: dict[str, Any], sock: socket.socket, seccomp_program: Any) -> None:
    try:
        os.setsid()
        if process.get("terminal"):
            _setup_terminal_fd(sock)
        program = early_seccomp(process, seccomp_program)
        path, args, env = become(process)
        send(sock, {"ready": True})
        sock.close()
        exec_process(process, path, args, env, program)
    except BaseException as e:  # noqa: BLE001
        try:
            send(sock, {"error": e.strerror if isinstance(e, OSError) and e.strerror else str(e)})
        finally:
            os._exit(126)


def wait(pid: int) -> int:
    """The exit code of a process started by spawn (128+N for a signal, as shells report it)."""
    _, status = os.waitpid(pid, 0)  # retried on EINTR by Python itself
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code
