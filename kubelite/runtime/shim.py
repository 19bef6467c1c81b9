"""The supervisor that keeps one container company for its whole life.

Forked (never exec'd) from the kubelite process that creates the container,
double-forked and session-leading so it outlives that command, and made a
child subreaper so the container's PID 1 is re-parented to it. It owns the
container's stdio pipes (or its pty master), writes them to the CRI log file,
relays them to any client attached on ``attach.sock``, and is the one process
that can wait(2) for the container, so the exit code and the OOM verdict are
written to ``exit.json`` and never lost. When the container has exited it runs
the caller's ``on_exit`` (``--rm`` clean-up) and goes away. Clients' stdin is
queued (``shimstdin``), never written with a blocking call, so a container that
does not read its stdin cannot stall everything else the shim does.
"""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import signal
import socket
import struct
import termios
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from kubelite.errors import KubeliteError, SystemFailure
from kubelite.runtime import attach as af
from kubelite.runtime import syscalls as sc
from kubelite.runtime.container import Runtime, now_rfc3339
from kubelite.runtime.logs import CRILogWriter
from kubelite.runtime.shimstdin import StdinWriter
from kubelite.runtime.state import ContainerState, write_json_atomic

_KINDS: list[type[KubeliteError]] = [KubeliteError, *KubeliteError.__subclasses__()]
ERROR_CLASSES: dict[str, type[KubeliteError]] = {cls.__name__: cls for cls in _KINDS}


@dataclass
class ShimOptions:
    cid: str
    bundle: Path
    spec: dict[str, Any]
    log_path: str
    stdin: bool = False          # keep the container's stdin open for attach clients
    wait_attach: bool = False    # start the container only once a client has attached
    annotations: dict[str, str] | None = None
    on_exit: Callable[[ContainerState, dict[str, Any]], None] | None = None


def start_shim(runtime: Runtime, opts: ShimOptions) -> ContainerState:
    """Create the container under a new shim; return once it is created (and started unless wait_attach)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(r)
        become_shim(runtime, opts, w)
    os.close(w)
    os.waitpid(pid, 0)
    # One line, not until EOF: the container's processes hold copies of the pipe until they exec.
    with os.fdopen(r, "rb") as f:
        data = f.readline()
    return ready_state(runtime, opts.cid, data)


def ready_state(runtime: Runtime, cid: str, line: bytes) -> ContainerState:
    """The container's state from the shim's one readiness line, or the error the shim reported."""
    try:
        msg = json.loads(line)
    except ValueError:
        raise SystemFailure("the container supervisor died while creating the container") from None
    if "error" in msg:
        raise ERROR_CLASSES.get(msg.get("kind", ""), SystemFailure)(msg["error"])
    return runtime.load(cid)


def become_shim(runtime: Runtime, opts: ShimOptions, ready_fd: int, *, daemonize: bool = True) -> NoReturn:
    """In a freshly forked child: start a new session, fork the shim from it and exit.

    The shim reports ``{"ok": true}`` or ``{"error": ..., "kind": ...}`` as one line on ``ready_fd``
    (a pipe or a socket, whatever the caller reads). Shared by :func:`start_shim` and the zygote, whose
    children become shims without the second fork (``daemonize=False``): it reaps them itself, and
    when it goes they are re-parented as any orphan is.
    """
    try:
        os.setsid()
        if daemonize and os.fork():
            os._exit(0)
        _detach_from_caller(ready_fd)
        _Shim(runtime, opts, ready_fd).run()
    except BaseException:  # noqa: BLE001
        os._exit(1)
    os._exit(0)


def _detach_from_caller(keep: int) -> None:
    """The shim outlives its caller (an agent, an API server in the same process): it must not hold the
    caller's descriptors (listening sockets, database files and their locks) nor its stdio."""
    from kubelite.runtime.launcher import close_other_fds

    close_other_fds(keep={keep})
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


class _Shim:
    def __init__(self, runtime: Runtime, opts: ShimOptions, ready_fd: int) -> None:
        self.runtime = runtime
        self.opts = opts
        self.ready_fd = ready_fd
        self.sel = selectors.DefaultSelector()
        self.clients: dict[socket.socket, af.FrameReader] = {}
        self.stdin: StdinWriter | None = None
        self.stdin_watched = False  # the writer's fd is in the selector, waiting for room
        self.paused: set[socket.socket] = set()  # clients not read while the stdin queue is full
        self.console: int | None = None
        self.outputs: dict[int, str] = {}
        self.exit: dict[str, Any] | None = None
        self.started = False
        self.drain_deadline = 0.0

    def _report(self, msg: dict[str, Any]) -> None:
        if self.ready_fd >= 0:
            os.write(self.ready_fd, json.dumps(msg).encode() + b"\n")
            os.close(self.ready_fd)
            self.ready_fd = -1

    def run(self) -> None:
        sc.set_process_name("kubelite-shim")
        sc.set_subreaper()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for s in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
        try:
            st = self._create()
        except BaseException as e:  # noqa: BLE001
            kind = type(e).__name__ if isinstance(e, KubeliteError) else "SystemFailure"
            self._report({"error": str(e) if isinstance(e, KubeliteError) else _oneline(e), "kind": kind})
            os._exit(1)
        try:
            self._serve(st, wake_r)
        except BaseException as e:  # noqa: BLE001 - never leave the caller waiting or the container orphaned
            self._report({"error": _oneline(e), "kind": "SystemFailure"})
            os.kill(st.pid, signal.SIGKILL)
            os._exit(1)

    def _serve(self, st: ContainerState, wake_r: int) -> None:
        self.log = CRILogWriter(self.opts.log_path)
        self.sock_path = str(st.dir / "attach.sock")
        listener = af.listen(self.sock_path)
        listener.setblocking(False)
        self.sel.register(listener, selectors.EVENT_READ, "listen")
        self.sel.register(wake_r, selectors.EVENT_READ, "signal")
        for fd in self.outputs:
            self.sel.register(fd, selectors.EVENT_READ, "output")
        self.st = st
        if not self.opts.wait_attach:
            self._start()
        self._report({"ok": True})
        deadline = time.monotonic() + 30 if self.opts.wait_attach else None
        while self.exit is None or self.outputs:
            timeout = None
            if deadline is not None and not self.started:
                timeout = max(0.0, deadline - time.monotonic())
            if self.exit is not None:
                if time.monotonic() > self.drain_deadline:
                    self._drain_all()
                    break
                timeout = 0.1
            events = self.sel.select(timeout)
            if not events and deadline is not None and not self.started:
                self._start()  # nobody attached in time: run detached rather than hang
            for key, _ in events:
                self._dispatch(key)
            if self.exit is None:
                self._reap()
        self._finish()

    def _create(self) -> ContainerState:
        proc = self.opts.spec["process"]
        stdin_r = os.open(os.devnull, os.O_RDONLY)
        stdin_w: int | None = None
        if proc.get("terminal"):
            stdio = None
        else:
            if self.opts.stdin:
                os.close(stdin_r)
                stdin_r, stdin_w = os.pipe()
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            self.outputs = {out_r: "stdout", err_r: "stderr"}
            stdio = (stdin_r, out_w, err_w)
        # Without wait_attach the container runs from here on: its start is recorded with its creation.
        st, launched = self.runtime.create(self.opts.cid, self.opts.bundle, spec=self.opts.spec, stdio=stdio,
                                           wait_start=self.opts.wait_attach, annotations=self.opts.annotations,
                                           shim_pid=os.getpid(),
                                           started="" if self.opts.wait_attach else now_rfc3339(),
                                           in_place=self.opts.on_exit is None)
        if stdio is not None:
            for fd in stdio:
                os.close(fd)
        else:
            os.close(stdin_r)
        if launched.console_fd is not None:
            self.console = launched.console_fd
            os.set_blocking(self.console, False)
            self.outputs = {self.console: "stdout"}
            # a descriptor of its own, so the selector can watch it for writing and reading apart
            self.stdin = StdinWriter(os.dup(self.console), closable=False)
        elif stdin_w is not None:
            self.stdin = StdinWriter(stdin_w, closable=True)
        for fd in self.outputs:
            os.set_blocking(fd, False)
        return st

    def _start(self) -> None:
        if self.started:
            return
        self.started = True
        if self.opts.wait_attach:
            self.runtime.start(self.opts.cid)
            self.st.started = now_rfc3339()
            self.st.save()

    def _dispatch(self, key: selectors.SelectorKey) -> None:
        if key.data == "listen":
            conn, _ = key.fileobj.accept()  # type: ignore[union-attr]
            conn.setblocking(True)
            self.clients[conn] = af.FrameReader()
            self.sel.register(conn, selectors.EVENT_READ, "client")
            self._start()
        elif key.data == "signal":
            try:
                os.read(key.fd, 512)
            except BlockingIOError:
                pass
        elif key.data == "output":
            self._read_output(key.fd)
        elif key.data == "client":
            self._read_client(key.fileobj)  # type: ignore[arg-type]
        elif key.data == "stdin" and self.stdin is not None:
            self.stdin.flush()
            self._sync_stdin()

    def _read_output(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO from a pty master once the last slave closed
            data = b""
        stream = self.outputs[fd]
        if not data:
            self.sel.unregister(fd)
            del self.outputs[fd]
            if fd != self.console:
                os.close(fd)
            return
        self.log.write(stream, data)
        self._broadcast(af.frame(af.STDOUT if stream == "stdout" else af.STDERR, data))

    def _broadcast(self, payload: bytes) -> None:
        for conn in list(self.clients):
            try:
                conn.sendall(payload)
            except OSError:
                self._drop(conn)

    def _drop(self, conn: socket.socket) -> None:
        self.clients.pop(conn, None)
        self.paused.discard(conn)
        try:
            self.sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()

    def _read_client(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        for channel, payload in self.clients[conn].feed(data):
            if channel == af.STDIN and self.stdin is not None:
                self.stdin.feed(payload)
            elif channel == af.RESIZE and self.console is not None:
                rows, cols = (int(x) for x in payload.split())
                fcntl.ioctl(self.console, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self._sync_stdin()

    def _sync_stdin(self) -> None:
        """Watch the stdin writer while it has a queue, close it once asked and drained, and read no client
        while its queue is full (their sockets fill up and slow the senders)."""
        w = self.stdin
        if w is None or w.fd is None:
            return
        want = w.wants_write()
        if want != self.stdin_watched:
            if want:
                self.sel.register(w.fd, selectors.EVENT_WRITE, "stdin")
            else:
                self.sel.unregister(w.fd)
            self.stdin_watched = want
        if w.done():
            self._close_stdin()
        elif w.full():
            for conn in set(self.clients) - self.paused:
                self.sel.unregister(conn)
                self.paused.add(conn)
            return
        for conn in self.paused & set(self.clients):
            self.sel.register(conn, selectors.EVENT_READ, "client")
        self.paused.clear()

    def _close_stdin(self) -> None:
        if self.stdin is None:
            return
        if self.stdin_watched and self.stdin.fd is not None:
            self.sel.unregister(self.stdin.fd)
        self.stdin_watched = False
        self.stdin.close()
        self.stdin = None

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.st.pid:
                self._exited(status)

    def _exited(self, status: int) -> None:
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            code = 128 + sig
        else:
            sig = 0
            code = os.WEXITSTATUS(status)
        try:
            oom = self.runtime.cgroup(self.st).oom_killed()
        except Exception:  # noqa: BLE001 - the verdict is best effort, the exit code is not
            oom = False
        self.exit = {"exitCode": code, "signal": sig, "oomKilled": bool(oom),
                     "startedAt": self.st.started, "finishedAt": now_rfc3339()}
        self._close_stdin()
        # A pty master reports EIO rather than EOF when the container is gone; a grace period
        # covers both, and pipes still held by an escaped process must not keep the shim alive.
        self.drain_deadline = time.monotonic() + 2
        if self.console is not None:
            self._drain_all()

    def _drain_all(self) -> None:
        while self.outputs and time.monotonic() < self.drain_deadline:
            for fd in list(self.outputs):
                self._read_output(fd)
            if self.outputs:
                time.sleep(0.01)
        for fd in list(self.outputs):
            self.sel.unregister(fd)
            if fd != self.console:
                os.close(fd)
        self.outputs.clear()

    def _finish(self) -> None:
        assert self.exit is not None
        self.log.close()
        write_json_atomic(self.st.exit_file, self.exit)
        if self.console is not None:
            os.close(self.console)
        if self.opts.on_exit is not None:
            try:
                self.opts.on_exit(self.st, self.exit)
            except Exception:  # noqa: BLE001
                with open(self.opts.log_path + ".shim-error", "w") as f:
                    f.write(traceback.format_exc())
        self._broadcast(af.frame(af.EXIT, json.dumps(self.exit).encode()))
        for conn in list(self.clients):
            self._drop(conn)
        try:
            os.unlink(self.sock_path)
        except FileNotFoundError:
            pass
        os._exit(0)


def _oneline(e: BaseException) -> str:
    return (str(e) or type(e).__name__).splitlines()[0]
