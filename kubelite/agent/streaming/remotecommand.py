"""exec and attach behind the node's streaming API, over :class:`CommandStreams`.

exec forks the command into the container with the runtime's own
``exec.spawn`` (the same path as ``kubelite exec``): pipes for stdin, stdout
and stderr, or one pty when a terminal is asked for, relayed with non-blocking
descriptors on the event loop. The exit is awaited through a pidfd, not a
thread per session (a few long ``kubectl exec`` sessions would otherwise fill
the loop's default executor and stall everything else that uses it), and the
exit code becomes the Status kubectl turns into its own exit code. Output is
read to its end even after the process exits, so nothing the command printed
is lost. A client that goes away hangs up a terminal session (SIGHUP, as a
closed terminal does); a command without a terminal keeps running, as it does
under the kubelet.

attach joins the shim's attach socket (the runtime's framing: STDIN, STDOUT,
STDERR, RESIZE, EXIT) and translates frames; the container's exit status ends
the session. Whether the container's stdin outlives the session is the
container's ``stdinOnce``, decided here and not in the shim, as containerd's
CRI attach does: this is where the container's config and the session's end
of stdin (a v5 close, the end of the SPDY stdin stream, or the client going
away, all one ``b""`` from :class:`CommandStreams`) are both known. For a
stdinOnce container that end becomes the frame the shim has always taken as
"close the container's stdin" (an empty STDIN payload; shims already running
understand it, so no new frame), and the session goes on until the container
exits, so what it prints after reading EOF still reaches the client (``echo hi |
kubectl run -i ... -- cat``). Without stdinOnce nothing is closed and a later
attach can type to the container again. The shim ignores the close for a
terminal (a pty has no end of input to give), as containerd and Docker do.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import struct
import termios
import threading
from typing import Any

from kubelite.agent.streaming.backend import ContainerRef
from kubelite.agent.streaming.channels import STDERR, STDOUT, CommandStreams, status_json
from kubelite.errors import Conflict, KubeliteError
from kubelite.runtime import attach as af
from kubelite.runtime import exec as rexec
from kubelite.runtime.container import compiled_seccomp
from kubelite.runtime.state import ContainerState

STDIN_FLUSH_SECONDS = 5.0


def running_state(ref: ContainerRef, what: str = "") -> ContainerState:
    """The live state of the container; Conflict naming ``what`` (the pod's name for it) if it is not running."""
    if ref.record is None:
        raise Conflict(f"{what or 'the container'} has not started yet")
    v = ref.engine.view(ref.record)
    if v.status != "running" or v.state is None:
        raise Conflict(f"{what or 'container ' + repr(ref.record.name)} is not running (state: {v.status})")
    return v.state


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def _readable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()
    loop.add_reader(fd, _wake, fut)
    try:
        await fut
    finally:
        loop.remove_reader(fd)


async def read_fd(fd: int) -> bytes:
    """Up to 32 KiB from a non-blocking fd; b"" at end of file (EIO from a pty whose other end is gone)."""
    while True:
        try:
            return os.read(fd, 32768)
        except BlockingIOError:
            await _readable(fd)
        except OSError:
            return b""


async def write_fd(fd: int, data: bytes) -> None:
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
            view = view[n:]
        except BlockingIOError:
            fut: asyncio.Future[None] = loop.create_future()
            loop.add_writer(fd, _wake, fut)
            try:
                await fut
            finally:
                loop.remove_writer(fd)


async def wait_exit(pid: int) -> int:
    """The exit code of our child ``pid`` (128+N for a signal), without blocking the loop or a thread."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # a kernel without pidfds: a thread of our own, not the shared executor
        box: list[int] = []
        t = threading.Thread(target=lambda: box.append(rexec.wait(pid)), name=f"wait {pid}", daemon=True)
        t.start()
        while t.is_alive():
            await asyncio.sleep(0.05)
        return box[0]
    try:
        while True:
            try:
                got, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # reaped by someone else: the code is lost, say so as a shell would
                return 255
            if got == pid:
                code = os.waitstatus_to_exitcode(status)
                return code if code >= 0 else 128 - code
            await _readable(pidfd)
    finally:
        os.close(pidfd)


def set_winsize(fd: int, rows: int, cols: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


async def _pump_out(fd: int, streams: CommandStreams, channel: int) -> None:
    while data := await read_fd(fd):
        await streams.write(channel, data)


class _Fd:
    """A descriptor closed exactly once, by whoever gets there first (the stdin feeder at EOF, or clean-up)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


async def _pump_in(fd: int, streams: CommandStreams, at_eof: _Fd | None) -> None:
    """Client stdin to ``fd``; at its end, close ``at_eof`` so the command reads end of file."""
    try:
        while data := await streams.read_stdin():
            await write_fd(fd, data)
    except OSError:  # the process closed its stdin: read the rest and drop it, so the client is not stalled
        while await streams.read_stdin():
            pass
    if at_eof is not None:
        at_eof.close()


async def _pump_resize(fd: int, streams: CommandStreams) -> None:
    while size := await streams.resizes.get():
        set_winsize(fd, *size)


async def run_exec(ref: ContainerRef, command: list[str], streams: CommandStreams) -> None:
    """Run ``command`` in the container with ``streams`` as its stdio, then send the Status."""
    try:
        st = running_state(ref)
        process = rexec.merge_process(st.process, command, terminal=streams.tty)
        status = await (_exec_tty(ref, st, process, streams) if streams.tty else _exec_pipes(ref, st, process, streams))
    except KubeliteError as e:
        text = str(e)
        code = 127 if "not found" in text or "no such file" in text else 126
        status = status_json(code, f"failed to exec in container: {text}", command)
        await streams.write(STDERR, f"{text}\n".encode()) if streams.stderr else None
    await streams.finish(status)


def _spawn(ref: ContainerRef, st: ContainerState, process: dict[str, Any],
           stdio: tuple[int, int, int] | None) -> tuple[int, int | None]:
    return rexec.spawn(st, process, ref.engine.runtime.cgroup(st), stdio=stdio,
                       seccomp_program=compiled_seccomp(st.seccomp))


async def _exec_pipes(ref: ContainerRef, st: ContainerState, process: dict[str, Any],
                      streams: CommandStreams) -> dict[str, Any]:
    ours: list[int] = []
    theirs: list[int] = []
    try:
        if streams.stdin:
            r, w = os.pipe()
            theirs.append(r)
            ours.append(w)
            stdin_fd, stdin_w = r, w
        else:
            stdin_fd, stdin_w = os.open(os.devnull, os.O_RDONLY), -1
            theirs.append(stdin_fd)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ours += [out_r, err_r]
        theirs += [out_w, err_w]
        pid, _ = _spawn(ref, st, process, (stdin_fd, out_w, err_w))
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    for fd in ours:
        os.set_blocking(fd, False)
    pumps = [asyncio.create_task(_pump_out(out_r, streams, STDOUT)),
             asyncio.create_task(_pump_out(err_r, streams, STDERR if streams.stderr else STDOUT))]
    stdin_end = _Fd(stdin_w)
    feeder = asyncio.create_task(_pump_in(stdin_w, streams, stdin_end)) if stdin_w >= 0 else None
    try:
        code = await wait_exit(pid)
        await asyncio.gather(*pumps)
    finally:
        for t in [*pumps, *([feeder] if feeder else [])]:
            t.cancel()
        await asyncio.gather(*pumps, *([feeder] if feeder else []), return_exceptions=True)
        for fd in (out_r, err_r):
            os.close(fd)
        stdin_end.close()
    return status_json(code, command=list(process["args"]))


async def _exec_tty(ref: ContainerRef, st: ContainerState, process: dict[str, Any],
                    streams: CommandStreams) -> dict[str, Any]:
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        pid, master = _spawn(ref, st, process, (devnull, devnull, devnull))
    finally:
        os.close(devnull)
    assert master is not None
    os.set_blocking(master, False)
    tasks = [asyncio.create_task(_pump_out(master, streams, STDOUT)),
             asyncio.create_task(_pump_resize(master, streams))]
    if streams.stdin:
        tasks.append(asyncio.create_task(_pump_in(master, streams, None)))
    waiter = asyncio.create_task(wait_exit(pid))
    gone = asyncio.create_task(streams.gone.wait())
    try:
        await asyncio.wait([waiter, gone], return_when=asyncio.FIRST_COMPLETED)
        if not waiter.done():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)  # the middle process passes it on to the command
        code = await waiter
        await tasks[0]
    finally:
        for t in [*tasks, gone]:
            t.cancel()
        await asyncio.gather(*tasks, gone, return_exceptions=True)
        os.close(master)
    return status_json(code, command=list(process["args"]))


async def run_attach(ref: ContainerRef, streams: CommandStreams) -> None:
    """Relay the container's own stdio until it exits or the client goes away."""
    try:
        st = running_state(ref)
        sock = af.connect(str(st.dir / "attach.sock"))
    except (KubeliteError, OSError) as e:
        await streams.finish(status_json(None, f"unable to attach: {e}"))
        return
    sock.setblocking(False)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    close_stdin = streams.stdin and stdin_once(ref)

    async def to_shim() -> None:
        while data := await streams.read_stdin():
            writer.write(af.frame(af.STDIN, data))
            await writer.drain()
        if close_stdin:
            writer.write(af.frame(af.STDIN, b""))
            await writer.drain()

    async def resize() -> None:
        while size := await streams.resizes.get():
            writer.write(af.frame(af.RESIZE, f"{size[0]} {size[1]}".encode()))
            await writer.drain()

    tasks = [asyncio.create_task(resize())]
    feeder = asyncio.create_task(to_shim()) if streams.stdin else None
    if feeder is not None:
        tasks.append(feeder)
    frames = af.FrameReader()
    status = status_json(None, "the container's supervisor went away")
    gone = asyncio.create_task(streams.gone.wait())
    left = False
    try:
        while True:
            chunk = asyncio.create_task(reader.read(65536))
            await asyncio.wait([chunk, gone], return_when=asyncio.FIRST_COMPLETED)
            if not chunk.done():
                chunk.cancel()
                left = True
                break
            data = chunk.result()
            if not data:
                break
            for channel, payload in frames.feed(data):
                if channel == af.STDOUT:
                    await streams.write(STDOUT, payload)
                elif channel == af.STDERR:
                    await streams.write(STDERR if streams.stderr else STDOUT, payload)
                elif channel == af.EXIT:
                    status = status_json(int(json.loads(payload).get("exitCode", 255)))
    except (ConnectionError, ValueError):
        pass
    finally:
        if left and feeder is not None:
            # What the client sent before it went is still the container's input (its queue ends in b""),
            # but a container that does not read must not hold the session open.
            await asyncio.wait([feeder], timeout=STDIN_FLUSH_SECONDS)
        for t in [*tasks, gone]:
            t.cancel()
        await asyncio.gather(*tasks, gone, return_exceptions=True)
        if close_stdin and left:  # gone before its stdin ended (v4 and older have no close): that is the end
            with contextlib.suppress(OSError):  # repeated or after the shim went: it ignores or never hears it
                writer.write(af.frame(af.STDIN, b""))
                await writer.drain()
        writer.close()
    await streams.finish(status)


def stdin_once(ref: ContainerRef) -> bool:
    """The container was made with stdinOnce (RunOptions.stdin_once; absent from records older than it)."""
    return ref.record is not None and bool(ref.record.options.get("stdin_once"))
