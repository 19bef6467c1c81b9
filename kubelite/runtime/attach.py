"""The framing spoken on a shim's attach socket.

Each frame is one byte of channel, four bytes of big-endian length, then the
payload, like Docker's multiplexed attach stream. Channels: STDIN (client to
shim; an empty payload closes the container's stdin), STDOUT and STDERR (shim
to client), RESIZE (client to shim: "rows cols"), EXIT (shim to client: the
JSON exit status, the last frame).

Closing stdin is the client's explicit act, never a side effect of its
connection ending: a container's stdin outlives any number of attach sessions
unless one of them asks (the node agent does for stdinOnce containers, the CLI
at the end of its own stdin, as ``docker run -i`` does). A terminal's input
has no end, so the close is ignored there.
"""

from __future__ import annotations

import os
import socket
import struct

STDIN, STDOUT, STDERR, RESIZE, EXIT = 0, 1, 2, 3, 4
HEADER = struct.Struct(">BI")


def frame(channel: int, payload: bytes) -> bytes:
    return HEADER.pack(channel, len(payload)) + payload


class FrameReader:
    """Accumulates bytes from a stream socket and yields whole frames."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buf += data
        out = []
        while len(self.buf) >= HEADER.size:
            channel, length = HEADER.unpack_from(self.buf)
            if len(self.buf) < HEADER.size + length:
                break
            out.append((channel, self.buf[HEADER.size:HEADER.size + length]))
            self.buf = self.buf[HEADER.size + length:]
        return out


def _short(path: str) -> tuple[str, int | None]:
    """A unix socket path must fit in 108 bytes; reach a deep one through an O_PATH descriptor of its directory."""
    if len(path.encode()) < 100:
        return path, None
    fd = os.open(os.path.dirname(path), os.O_PATH | os.O_CLOEXEC)
    return f"/proc/self/fd/{fd}/{os.path.basename(path)}", fd


def connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    short, fd = _short(path)
    try:
        s.connect(short)
    except BaseException:
        s.close()
        raise
    finally:
        if fd is not None:
            os.close(fd)
    return s


def listen(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    short, fd = _short(path)
    try:
        s.bind(short)
    finally:
        if fd is not None:
            os.close(fd)
    s.listen(8)
    return s
