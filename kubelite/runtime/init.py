"""The container's first process: from a fresh set of namespaces to execve.

This code runs in a forked child that is already PID 1 of the new PID
namespace and sits in the container's cgroup. It is synchronous and touches
nothing shared with the parent; anything that goes wrong is reported to the
parent as one line over the sync socket, and the child exits. The order of
steps follows runc's: mounts while still privileged, pivot_root, kernel
parameters, then credentials, capabilities, and seccomp last, right before
execve, so the filter never sees our own set-up.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # the C module: no enums (see reset_signals)
import contextlib
import fcntl
import json
import os
import resource
import shutil
import signal
import socket
import termios
from dataclasses import dataclass
from typing import Any, NoReturn

from kubelite.runtime import capabilities
from kubelite.runtime.rootfs import RootfsBuilder
from kubelite.runtime.spec import DEFAULT_PATH, env_dict
from kubelite.runtime.syscalls import CLONE_NEWCGROUP, SYSCALLS

# <asm-generic/ioctls.h>; Python's termios module lacks these two.
TIOCSPTLCK = 0x40045431
TIOCGPTN = 0x80045430

RLIMITS = {name: getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_")}


@dataclass
class InitConfig:
    spec: dict[str, Any]
    rootfs: str
    sync: socket.socket
    cgroup_version: str
    new_mount_ns: bool
    in_userns: bool
    exec_fifo: str | None  # wait here for `start` before execve; None starts at once
    seccomp_program: Any = None  # compiled by the parent, so the child only installs it
    cgroup_path: str = ""
    new_cgroupns: bool = False


# Plain numbers, through the C module: ``signal.signal`` turns every old handler into an enum member, a
# third of this function's cost on the path of every container start.
_RESETTABLE = sorted(int(s) for s in _signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP))


def reset_signals() -> None:
    """Default dispositions and an empty mask: ignored signals survive execve, and Python ignores SIGPIPE
    (the shim ignores more), so a container would inherit them and could not even trap SIGTERM."""
    _signal.set_wakeup_fd(-1)
    for sig in _RESETTABLE:
        try:
            _signal.signal(sig, _signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def close_inherited_fds(preserve: int = 0) -> None:
    """Mark every descriptor above stdio (and the first PRESERVE after it) close-on-exec, as runc does:
    nothing the runtime or its caller had open may leak into the container."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 + preserve:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass


def _recv_msg(sock: socket.socket) -> dict[str, Any]:
    data = sock.recv(65536)
    return dict(json.loads(data)) if data else {}


def send(sock: socket.socket, msg: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(msg).encode() + b"\n"
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.sendall(data)


def container_init(cfg: InitConfig) -> None:
    """Never returns: execs the container process, or reports the error and exits 1."""
    try:
        _init(cfg)
    except BaseException as e:  # noqa: BLE001 - everything must reach the parent as a message
        try:
            send(cfg.sync, {"error": _describe(e)})
        except BaseException:  # noqa: BLE001 - the parent stopped listening (we were ready): stderr is left
            with contextlib.suppress(OSError):
                os.write(2, f"kubelite: {_describe(e)}\n".encode())
        finally:
            os._exit(1)


def _describe(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror and e.filename is None and ":" in str(e.strerror):
        return str(e.strerror)
    return str(e) or type(e).__name__


def _init(cfg: InitConfig) -> None:
    spec = cfg.spec
    proc = spec["process"]
    linux = spec.get("linux", {})
    os.setsid()
    fifo_fd = os.open(cfg.exec_fifo, os.O_PATH | os.O_CLOEXEC) if cfg.exec_fifo else -1

    joined = False

    def join_cgroup() -> None:
        """Wait until the parent has moved us into our cgroup, then root a new cgroup namespace there."""
        nonlocal joined
        if joined:
            return
        msg = _recv_msg(cfg.sync)
        if not msg.get("cgroup"):
            raise RuntimeError("container init: the runtime went away before placing it in its cgroup")
        if cfg.new_cgroupns:
            SYSCALLS.unshare(CLONE_NEWCGROUP)
        joined = True

    builder = RootfsBuilder(spec, cfg.rootfs, cgroup_version=cfg.cgroup_version, in_userns=cfg.in_userns,
                            cgroup_path=cfg.cgroup_path, before_cgroup_mount=join_cgroup)
    if cfg.new_mount_ns:
        builder.prepare()
        join_cgroup()
        builder.pivot()
    else:
        join_cgroup()
        os.chroot(cfg.rootfs)
        os.chdir("/")

    if proc.get("terminal"):
        _setup_terminal(cfg, proc)

    if spec.get("hostname"):
        socket.sethostname(spec["hostname"])
    for key, value in linux.get("sysctl", {}).items():
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(str(value))
    if cfg.new_mount_ns:
        builder.finish()

    if "oomScoreAdj" in proc:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(proc["oomScoreAdj"]))
    for rl in proc.get("rlimits", []):
        if rl.get("type") not in RLIMITS:
            raise ValueError(f"unknown rlimit {rl.get('type')}")
        resource.setrlimit(RLIMITS[rl["type"]], (rl.get("soft", 0), rl.get("hard", 0)))

    program = early_seccomp(proc, cfg.seccomp_program)
    path, args, env = become(proc)

    send(cfg.sync, {"ready": True})
    if fifo_fd >= 0:
        # Blocks until `start` opens the fifo for reading.
        fd = os.open(f"/proc/self/fd/{fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
        os.write(fd, b"0")
        os.close(fd)
        os.close(fifo_fd)
    cfg.sync.close()
    exec_process(proc, path, args, env, program)


def early_seccomp(proc: dict[str, Any], program: Any) -> Any:
    """Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which the process is about to drop: load
    it now, before :func:`become` (runc does the same; the profile allows what is left to do). Returns the
    program still to load at exec time, if any."""
    if program is None or proc.get("noNewPrivileges"):
        return program
    from kubelite.runtime import seccomp

    seccomp.install(program)
    return None


def become(proc: dict[str, Any]) -> tuple[str, list[str], dict[str, str]]:
    """Take on PROC's credentials, capabilities and cwd (the kernel's order, see capabilities.py);
    return the resolved program path, its args and environment, ready for execve."""
    env = env_dict(proc.get("env", []))
    user = proc.get("user", {})
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    caps = proc.get("capabilities")
    if caps is not None:
        capabilities.drop_bounding(caps.get("bounding", []))
    os.setgroups([int(g) for g in user.get("additionalGids", [])])
    os.umask(int(user.get("umask", 0o022)))
    capabilities.keep_caps(True)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    capabilities.keep_caps(False)
    if caps is not None:
        capabilities.apply(caps)

    cwd = proc.get("cwd", "/")
    try:
        os.chdir(cwd)
    except OSError as e:
        raise OSError(e.errno, f"chdir to cwd ({cwd!r}) set in config.json failed: {e.strerror}") from None

    args = list(proc["args"])
    path = args[0]
    if "/" not in path:
        found = shutil.which(path, path=env.get("PATH", DEFAULT_PATH))
        if not found:
            raise OSError(2, f"exec: {path!r}: executable file not found in $PATH")
        path = found
    elif not os.path.exists(path):
        raise OSError(2, f"exec: {path!r}: no such file or directory")
    return path, args, env


def exec_process(proc: dict[str, Any], path: str, args: list[str], env: dict[str, str],
                 seccomp_program: Any) -> NoReturn:
    """The last steps, after which nothing of ours runs: no leaked fds, no_new_privs, seccomp, execve."""
    close_inherited_fds()
    if proc.get("noNewPrivileges"):
        capabilities.no_new_privs()
    if seccomp_program is not None:
        from kubelite.runtime import seccomp  # imported by the parent that compiled the program

        seccomp.install(seccomp_program)
    try:
        os.execve(path, args, env)
    except OSError as e:
        # Our caller stopped listening once we were ready; stderr is all that is left.
        os.write(2, f"kubelite: exec {path}: {e.strerror}\n".encode())
        os._exit(127 if e.errno == 2 else 126)


def _setup_terminal(cfg: InitConfig, proc: dict[str, Any]) -> None:
    size = proc.get("consoleSize")
    _setup_terminal_fd(cfg.sync, (size.get("height", 24), size.get("width", 80)) if size else None)


def _setup_terminal_fd(sync: socket.socket, size: tuple[int, int] | None = None) -> None:
    """Open a pty in the container's devpts, hand the master to the parent, make the slave our stdio."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, b"\0\0\0\0")
    num = int.from_bytes(fcntl.ioctl(master, TIOCGPTN, b"\0\0\0\0"), "little")
    slave = os.open(f"/dev/pts/{num}", os.O_RDWR | os.O_NOCTTY)
    if size:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, _winsize(*size))
    send(sync, {"console": True}, [master])
    os.close(master)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    if slave > 2:
        os.close(slave)


def _winsize(rows: int, cols: int) -> bytes:
    return rows.to_bytes(2, "little") + cols.to_bytes(2, "little") + b"\0\0\0\0"
