"""The shim's side of an attach client's stdin: a disconnect closes nothing, an empty STDIN frame closes it.

This is the contract the node agent's stdinOnce relies on (it sends the
close, the shim keeps no policy), spoken to a real container's shim over its
attach socket with the runtime's framing.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from kubelite.containers.engine import Engine
from kubelite.containers.specgen import RunOptions
from kubelite.runtime import attach as af
from tests.conftest import Env

pytestmark = pytest.mark.root


@pytest.fixture
def engine(kenv: Env) -> Iterator[Engine]:
    e = Engine(kenv.root, kenv.state / "containers")
    try:
        yield e
    finally:
        for rec in e.records():
            e.remove(rec.id, force=True)


def _until(conn: socket.socket, done: object) -> tuple[bytes, dict[str, int] | None]:
    """Read frames until STDOUT holds ``done`` (bytes) or, for ``done=None``, the EXIT frame; the deadline only
    turns a hang into a failure."""
    reader = af.FrameReader()
    out = b""
    deadline = time.monotonic() + 30
    while True:
        ready, _, _ = select.select([conn], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no {done!r} from the shim, got {out!r}"
        data = conn.recv(65536)
        assert data, f"the shim hung up before {done!r}: {out!r}"
        for channel, payload in reader.feed(data):
            if channel == af.STDOUT:
                out += payload
            elif channel == af.EXIT:
                return out, json.loads(payload)
        if isinstance(done, bytes) and done in out:
            return out, None


def test_stdin_outlives_a_disconnect_and_ends_on_request(engine: Engine) -> None:
    rec, st = engine.run(RunOptions(image="busybox", command=["sh", "-c", "cat; echo eof-seen"], detach=True,
                                    interactive=True))
    sock = str(st.dir / "attach.sock")
    with af.connect(sock) as first:
        first.sendall(af.frame(af.STDIN, b"one\n"))
        _until(first, b"one\n")
    # The first client went away without a close: the container's stdin is still open to the next one.
    with af.connect(sock) as second:
        second.sendall(af.frame(af.STDIN, b"two\n"))
        assert _until(second, b"two\n")[0] == b"two\n"
        second.sendall(af.frame(af.STDIN, b""))
        out, status = _until(second, None)
    assert out == b"eof-seen\n"
    assert status is not None and status["exitCode"] == 0
    assert engine.view(rec).status == "exited"


def test_a_container_not_reading_stdin_does_not_stall_its_shim(engine: Engine) -> None:
    """More stdin than the pipe holds, to a container that never reads it: output still flows and a new
    client is still served (the shim queues stdin and slows the sender instead of blocking on the pipe)."""
    rec, st = engine.run(RunOptions(image="busybox", command=["sh", "-c", "while true; do echo tick; sleep 0.1; done"],
                                    detach=True, interactive=True))
    sock = str(st.dir / "attach.sock")
    flood = af.connect(sock)
    sent: list[BaseException] = []

    def stuff() -> None:
        try:
            flood.sendall(af.frame(af.STDIN, b"x" * (4 << 20)))
        except OSError as e:  # shut down below once the point is made
            sent.append(e)

    feeder = threading.Thread(target=stuff, name="stdin flood")
    feeder.start()
    try:
        with af.connect(sock) as watcher:
            _until(watcher, b"tick\ntick\n")
    finally:
        flood.shutdown(socket.SHUT_RDWR)
        feeder.join(30)
        flood.close()
    assert not feeder.is_alive()
    engine.kill(rec.id)
    engine.wait_exit(rec, 30)


def test_close_follows_everything_sent_before_it(engine: Engine) -> None:
    """More than a pipe holds, then the close at once: the container reads all of it, then EOF."""
    _, st = engine.run(RunOptions(image="busybox", command=["wc", "-c"], detach=True, interactive=True))
    with af.connect(str(st.dir / "attach.sock")) as conn:
        conn.sendall(af.frame(af.STDIN, b"y" * (3 << 20)) + af.frame(af.STDIN, b""))
        out, status = _until(conn, None)
    assert out.strip() == str(3 << 20).encode()
    assert status is not None and status["exitCode"] == 0
