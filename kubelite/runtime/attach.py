"""The framing spoken on a shim's attach socket.

Each frame is one byte of channel, four bytes of big-endian length, then the
payload, like Docker's multiplexed attach stream. Channels: STDIN (client to
shim; an empty payload closes the container's stdin), STDOUT and STDERR (shim
to client), RESIZE (client to shim: "rows cols"), EXIT (shim to client: the
JSON exit status, the last frame).
"""

from __future__ import annotations

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


def connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s
