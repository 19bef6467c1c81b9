"""A warm process that runs `kubelite oci` commands, so a one-shot command costs a fork, not an interpreter.

Python needs ~100 ms here to import what the runtime uses; runc starts a
container in ~25 ms. The command on PATH therefore stays tiny (only C modules:
`_socket`, `_signal`, `array`) and hands its argv, cwd, environment and stdio
descriptors to this server over a unix socket; the server forks a worker that
runs the real command with those descriptors as its own stdio and reports the
exit code back. Signals the client receives are forwarded to the worker. If no
server answers, the client runs the command itself and starts a server in the
background for the next call; the server exits after IDLE_SECONDS without
work, so it never lingers.

Wire format (SOCK_SEQPACKET, one message per packet): the request is
NUL-separated fields `argc, argv..., cwd, envc, env...` with three descriptors
attached; then `S<signum>` from the client and `E<code>` from the server.
"""

from __future__ import annotations

import os
import sys

IDLE_SECONDS = 30.0
FAST_COMMANDS = ("oci",)


def socket_path() -> str:
    return os.path.join(os.environ.get("KUBELITE_STATE", "/run/kubelite"), "forkserver.sock")


def encode_request(argv: list[str], cwd: str, env: dict[str, str]) -> bytes:
    fields = [str(len(argv)), *argv, cwd, str(len(env)), *(f"{k}={v}" for k, v in env.items())]
    return b"\0".join(os.fsencode(f) for f in fields)


def decode_request(data: bytes) -> tuple[list[str], str, dict[str, str]]:
    fields = [os.fsdecode(f) for f in data.split(b"\0")]
    argc = int(fields[0])
    argv = fields[1:1 + argc]
    cwd = fields[1 + argc]
    envc = int(fields[2 + argc])
    env = dict(f.partition("=")[::2] for f in fields[3 + argc:3 + argc + envc])
    return argv, cwd, env


# -- client: runs in the command's own interpreter, before anything heavy is imported ----------------

def client(argv: list[str]) -> int | None:
    """Run ARGV through a forkserver; None if there is none (the caller then runs it itself)."""
    import _signal  # type: ignore[import-not-found]  # the C module: `signal` would import enum
    import _socket
    from array import array

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    try:
        sock.connect(socket_path())
    except OSError:
        sock.close()
        return None
    fds = array("i", [0, 1, 2])
    sock.sendmsg([encode_request(argv, os.getcwd(), dict(os.environ))],
                 [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds.tobytes())])

    def forward(signum: int, _frame: object) -> None:
        sock.send(b"S%d" % signum)

    for sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1,
                _signal.SIGUSR2, _signal.SIGWINCH):
        _signal.signal(sig, forward)
    while True:
        try:
            msg = sock.recv(64)
        except InterruptedError:
            continue
        if not msg:
            return 255  # the server died under us
        if msg.startswith(b"E"):
            return int(msg[1:])


def start_server_in_background() -> None:
    """Fork and exec a detached server; the current command does not wait for it."""
    if os.fork() != 0:
        return
    try:
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        os.execv(sys.executable, [sys.executable, "-IS", "-c",
                                  f"import sys; sys.path.insert(0, {root!r}); "
                                  "from kubelite.cli.forkserver import serve; serve()"])
    finally:
        os._exit(1)


# -- server ----------------------------------------------------------------------------------------

def serve(path: str | None = None, idle: float | None = None) -> None:
    import array
    import gc
    import selectors
    import signal
    import socket
    import time

    import kubelite.cli.main
    import kubelite.cli.oci  # noqa: F401 - warm: what the workers run is imported once, here
    from kubelite.runtime import syscalls

    path = path or socket_path()
    if idle is None:
        idle = float(os.environ.get("KUBELITE_FORKSERVER_IDLE", IDLE_SECONDS))
    os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    tmp = f"{path}.{os.getpid()}"
    listener.bind(tmp)
    os.chmod(tmp, 0o600)
    listener.listen(64)
    os.replace(tmp, path)  # atomically takes over from a dead server's stale socket
    ours = os.stat(path).st_ino
    syscalls.set_process_name("kubelite-forkd")
    gc.freeze()  # the workers' pages stay shared with ours for longer
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sel.register(wake_r, selectors.EVENT_READ)
    workers: dict[int, socket.socket] = {}
    by_conn: dict[socket.socket, int] = {}
    last_work = time.monotonic()
    try:
        while True:
            for key, _ in sel.select(timeout=1.0):
                if key.fileobj is listener:
                    conn, _ = listener.accept()
                    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
                    if int.from_bytes(creds[4:8], "little") != 0:
                        conn.close()  # root only, like the runtime itself
                        continue
                    msg, anc, _flags, _addr = conn.recvmsg(1 << 20, socket.CMSG_SPACE(3 * 4))
                    fds = array.array("i")
                    for level, kind, data in anc:
                        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
                    pid = os.fork()
                    if pid == 0:
                        listener.close()
                        conn.close()
                        _worker(msg, list(fds))
                    for fd in fds:
                        os.close(fd)
                    workers[pid] = conn
                    by_conn[conn] = pid
                    sel.register(conn, selectors.EVENT_READ)
                elif key.fileobj == wake_r:
                    try:
                        os.read(wake_r, 512)
                    except BlockingIOError:
                        pass
                else:
                    conn = key.fileobj  # type: ignore[assignment]
                    data = conn.recv(64)
                    pid = by_conn.get(conn, 0)
                    if data.startswith(b"S") and pid:
                        try:
                            os.kill(pid, int(data[1:]))
                        except ProcessLookupError:
                            pass
                    elif not data:
                        sel.unregister(conn)  # the client went away; its worker finishes on its own
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                done = workers.pop(pid, None)
                if done is not None:
                    code = os.waitstatus_to_exitcode(status)
                    try:
                        done.send(b"E%d" % (code if code >= 0 else 128 - code))
                    except OSError:
                        pass
                    by_conn.pop(done, None)
                    try:
                        sel.unregister(done)
                    except (KeyError, ValueError):
                        pass
                    done.close()
                last_work = time.monotonic()
            if not workers and time.monotonic() - last_work > idle:
                break
            if not _is_ours(path, ours):
                break  # another server took the socket over
    finally:
        if _is_ours(path, ours):
            os.unlink(path)


def _is_ours(path: str, inode: int) -> bool:
    try:
        return os.stat(path).st_ino == inode
    except FileNotFoundError:
        return False


def _worker(msg: bytes, fds: list[int]) -> None:
    import signal

    code = 1
    try:
        argv, cwd, env = decode_request(msg)
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        os.setsid()
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        _fresh_stdio()
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        sys.argv = ["kubelite", *argv]
        from kubelite.cli.main import main

        try:
            main(argv)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _fresh_stdio() -> None:
    """Python objects for the new descriptors 0-2, buffered as an interpreter started on them would be."""
    import io

    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)))
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)),
                                  line_buffering=os.isatty(1))
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True,
                                  errors="backslashreplace")


def launch() -> None:
    """The entry point of the command on PATH (see scripts/setup.sh)."""
    argv = sys.argv[1:]
    if argv[:1] and argv[0] in FAST_COMMANDS and os.geteuid() == 0 and not os.environ.get("KUBELITE_NO_FORKSERVER"):
        code = client(argv)
        if code is not None:
            sys.stdout.flush()
            os._exit(code)
        start_server_in_background()
    from kubelite.cli.main import main

    main(argv)
