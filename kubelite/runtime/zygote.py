"""A small long-lived process that forks container supervisors (shims) for a node agent.

Why: a shim forked from the agent is a copy of everything the agent holds (the
API client, aiohttp, in `kubelite up` the API server and the controllers), and
CPython's reference counting dirties those copied pages as soon as the shim
runs, so each shim costs the agent's heap again (~20 MiB); and forking a big,
many-threaded process on every container start is slow. The zygote is a
fresh ``python -I`` started once, when the agent starts (never on the path that
starts a container), that imports only the runtime layer, freezes its heap out
of the garbage collector's reach, and then does nothing but fork.

Protocol: the agent holds one end of a ``SOCK_SEQPACKET`` socket pair; the
zygote has the other as its stdin. For each shim the agent makes a fresh stream
socket pair, passes one end to the zygote (``SCM_RIGHTS``, a one-byte message)
and writes the request (JSON, one line) on the other. The zygote forks at once
and goes back to waiting; its child reads the request and becomes the shim
(:func:`kubelite.runtime.shim.become_shim`), which reports on that very socket
as it would on its pipe. So the zygote never blocks on a client, starts happen
in parallel, and no path in the filesystem (or the abstract namespace, which a
container on the host network could reach) accepts requests: only a holder of
the socket pair can ask. The zygote exits when the agent's end closes; the
shims it made are in their own sessions and live on.

``--rm`` clean-up callbacks cannot cross a process boundary: such requests fall
back to a fork of the caller (the CLI does that anyway).
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import gc
import importlib
import json
import os
import pkgutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from kubelite.errors import SystemFailure
from kubelite.runtime import jsonbytes
from kubelite.runtime.container import Runtime
from kubelite.runtime.shim import ShimOptions, become_shim, ready_state, start_shim
from kubelite.runtime.state import ContainerState

MAX_REQUEST = 64 << 20


class Zygote:
    """The agent's side: start the helper once, then ``start_shim`` as :func:`kubelite.runtime.shim.start_shim`."""

    def __init__(self, tag: str = "") -> None:
        # Shown in the command line of the zygote and so of every shim (they are its forks): `pgrep -f
        # <state dir>` finds an agent's supervisors as it found them when they were forks of the agent.
        self.tag = tag
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.started = 0  # helpers started (a restarted one counts again)

    def start(self) -> None:
        with self._lock:
            self._spawn()

    def _spawn(self) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = [sys.executable, "-I", "-m", "kubelite.runtime.zygote", *([self.tag] if self.tag else [])]
        try:
            self._proc = subprocess.Popen(argv, stdin=theirs.fileno(), stdout=subprocess.DEVNULL, close_fds=True,
                                          start_new_session=True)
        finally:
            theirs.close()
        self._sock = mine
        self.started += 1

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()  # the zygote sees EOF and exits
                self._sock = None
            if self._proc is not None:
                try:
                    self._proc.wait(5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
                self._proc = None

    def _send(self, fd: int) -> None:
        with self._lock:
            for attempt in range(2):
                if self._sock is None or (self._proc is not None and self._proc.poll() is not None):
                    if self._sock is not None:
                        self._sock.close()
                    self._spawn()  # it died (killed by someone): a new one, off the usual path
                assert self._sock is not None
                try:
                    self._sock.sendmsg([b"r"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
                    return
                except OSError:
                    if attempt:
                        raise
                    self._sock.close()
                    self._sock = None

    def start_shim(self, runtime: Runtime, opts: ShimOptions) -> ContainerState:
        """Create (and start unless ``wait_attach``) the container under a shim forked by the zygote."""
        if opts.on_exit is not None:
            return start_shim(runtime, opts)
        request = jsonbytes.dumps({
            "root": str(runtime.store.root), "cgroup_root": str(runtime.cgroup_root),
            "cid": opts.cid, "bundle": str(opts.bundle), "spec": opts.spec, "log_path": opts.log_path,
            "stdin": opts.stdin, "wait_attach": opts.wait_attach, "annotations": opts.annotations,
        }) + b"\n"
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with mine:
            try:
                self._send(theirs.fileno())
            except OSError as e:
                raise SystemFailure(f"the shim helper is not available: {e}") from None
            finally:
                theirs.close()
            mine.sendall(request)
            mine.shutdown(socket.SHUT_WR)
            # One line, not until EOF: the container's processes hold the socket until they exec.
            with mine.makefile("rb") as f:
                line = f.readline()
        return ready_state(runtime, opts.cid, line)


# --- the helper process --------------------------------------------------------------------------------------


def _preload() -> None:
    """Import the whole runtime layer now, so no shim imports (and dirties) anything after its fork."""
    import kubelite.runtime as pkg

    for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        if mod.name != "kubelite.runtime.zygote":
            importlib.import_module(mod.name)
    # Most containers get the default seccomp profile: compiled once here (~10 ms of CPU and a few hundred
    # KiB of heap) instead of in every shim, which finds it in the inherited cache.
    from kubelite.runtime import seccomp
    from kubelite.runtime.container import compiled_seccomp

    compiled_seccomp(seccomp.default_profile())
    from kubelite.runtime import cgroups
    from kubelite.runtime.cgroups.v1 import manager as v1
    from kubelite.runtime.rootfs import v1_hierarchies

    v1_hierarchies()
    if cgroups.detect(cgroups.ROOT) == "v1":
        v1.warm(cgroups.ROOT)


def _read_request(conn: socket.socket) -> dict[str, Any]:
    chunks = []
    size = 0
    while True:
        data = conn.recv(1 << 16)
        if not data:
            break
        chunks.append(data)
        size += len(data)
        if size > MAX_REQUEST:
            raise ValueError("request too large")
    return dict(jsonbytes.loads(b"".join(chunks)))


def _child(fd: int) -> None:  # pragma: no cover - forked child
    conn = socket.socket(fileno=fd)
    try:
        req = _read_request(conn)
        runtime = Runtime(Path(req["root"]), Path(req["cgroup_root"]))
        opts = ShimOptions(cid=req["cid"], bundle=Path(req["bundle"]), spec=req["spec"], log_path=req["log_path"],
                           stdin=bool(req["stdin"]), wait_attach=bool(req["wait_attach"]),
                           annotations=req.get("annotations"))
    except Exception as e:  # noqa: BLE001 - the caller gets a reason, not a hang
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps({"error": f"bad shim request: {e}", "kind": "SystemFailure"}).encode() + b"\n")
        os._exit(1)
    become_shim(runtime, opts, conn.detach(), daemonize=False)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(control: socket.socket) -> None:
    # The children are the shims: reaped as they exit, so an ended shim's pid does not linger as a
    # zombie that looks alive. (A shim sets its own handler before it forks anything.)
    signal.signal(signal.SIGCHLD, lambda *_: _reap())
    control.settimeout(1.0)  # and wakes now and then to reap, should a signal be missed
    gc.collect()
    gc.freeze()  # what is imported now is shared with every shim: the collector must not touch it
    # Give the heap the imports freed back to the kernel: every fork copies the page table entries of the
    # pages we hold, and every container's init tears them down again at its execve.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)
    while True:
        try:
            msg, anc, _, _ = control.recvmsg(16, socket.CMSG_SPACE(4 * 16))
        except TimeoutError:
            _reap()
            continue
        except InterruptedError:
            continue
        fds: list[int] = []
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                arr = array.array("i")
                arr.frombytes(data[: len(data) - len(data) % arr.itemsize])
                fds.extend(arr)
        if not msg and not fds:
            return  # the agent is gone
        for fd in fds:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                control.close()
                _child(fd)
                os._exit(1)
            os.close(fd)
        _reap()


def main() -> None:
    _preload()
    control = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        serve(control)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
