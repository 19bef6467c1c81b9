"""Run a command in a running container and collect what it prints (the CRI's ExecSync).

The process is started exactly as ``kubelite exec`` starts one
(:func:`kubelite.runtime.exec.spawn`: the container's namespaces, cgroup,
credentials and seccomp filter), with no terminal, stdin from ``/dev/null``
and stdout and stderr on one pipe. Forking waits for the process to say it
started, so it happens in a thread; everything after that is the event loop's
(a non-blocking pipe and a pidfd), so a probe that hangs costs no thread.

Like the kubelet, at most 10 KiB of output is kept; the rest is read and
dropped so a chatty command never blocks on a full pipe. On timeout, or when
the caller is cancelled, the command's whole process group is killed (the
exec'd process is a session leader, so a shell and whatever it started go
together), then the waiting middle process, which is always reaped: no
process and no descriptor outlives the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass

from kubelite.agent.streaming.remotecommand import read_fd, wait_exit
from kubelite.containers.engine import ContainerRecord, Engine
from kubelite.errors import Conflict, Invalid
from kubelite.runtime import exec as rexec
from kubelite.runtime.container import compiled_seccomp

MAX_OUTPUT = 10 * 1024
# Output still arriving after the command exited comes from something it left behind holding the pipe:
# read what is there, but do not wait for that to end.
_DRAIN_AFTER_EXIT = 1.0


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: bytes
    timed_out: bool = False


async def exec_in_container(engine: Engine, record: ContainerRecord, argv: list[str],
                            timeout: float | None) -> ExecResult:
    """Run ``argv`` in the running container ``record``; killed after ``timeout`` seconds (None: no limit).

    Raises Invalid for an empty command and Conflict when the container is not running; a command that
    cannot be started (no such file...) raises the runtime's SystemFailure."""
    if not argv:
        raise Invalid("the command to run is empty")
    view = engine.view(record)
    if view.status != "running" or view.state is None:
        raise Conflict(f"container {record.name} is not running (state: {view.status})")
    st = view.state
    process = rexec.merge_process(st.process, list(argv), terminal=False)
    r, w = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)

    def spawned(f: asyncio.Future[tuple[int, int | None]]) -> None:
        # The forking thread is done with the child's ends of the pipe whatever happened.
        os.close(w)
        os.close(null)

    starting = asyncio.ensure_future(asyncio.to_thread(
        rexec.spawn, st, process, engine.runtime.cgroup(st), (null, w, w), compiled_seccomp(st.seccomp)))
    starting.add_done_callback(spawned)
    try:
        pid, _ = await asyncio.shield(starting)
    except asyncio.CancelledError:
        # A fork cannot be called back: let it finish, then kill and reap what it started.
        starting.add_done_callback(_abandon)
        os.close(r)
        raise
    except BaseException:
        os.close(r)
        raise
    os.set_blocking(r, False)
    out = bytearray()

    async def collect() -> None:
        while data := await read_fd(r):
            if len(out) < MAX_OUTPUT:
                out.extend(data[:MAX_OUTPUT - len(out)])

    reader = asyncio.get_running_loop().create_task(collect())
    reaped = False
    try:
        try:
            code = await asyncio.wait_for(wait_exit(pid), timeout)
            reaped = True
        except TimeoutError:
            _kill(pid)
            code = await wait_exit(pid)
            reaped = True
            return ExecResult(code, bytes(out), timed_out=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), _DRAIN_AFTER_EXIT)
        return ExecResult(code, bytes(out))
    finally:
        if not reaped:  # cancelled: kill and reap right here (the middle process dies at once on SIGKILL)
            _kill(pid)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        os.close(r)


def _abandon(f: asyncio.Future[tuple[int, int | None]]) -> None:
    """Kill and reap a command whose caller went away while it was being started."""
    if f.cancelled() or f.exception() is not None:
        return
    pid = f.result()[0]
    _kill(pid)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _kill(middle: int) -> None:
    """SIGKILL the exec'd command's process group, then the middle process that waits for it."""
    try:
        with open(f"/proc/{middle}/task/{middle}/children") as f:
            children = [int(p) for p in f.read().split()]
    except OSError:
        children = []
    for child in children:
        # The command called setsid(): its pid is its process group, which holds what it started.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(middle, signal.SIGKILL)
