"""Container logs in the CRI format the kubelet uses: ``<RFC3339Nano> <stream> <P|F> <text>``.

One line per line of output; a line longer than ``MAX_LINE`` or cut by the
container's exit is split into partial records tagged ``P``, the last piece
tagged ``F``, so readers can put lines back together exactly. The writer is
used by the shim, the reader by `logs` (and later the agent's log API).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

MAX_LINE = 16 * 1024


def timestamp(ns: int | None = None) -> str:
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


class CRILogWriter:
    """Buffers each stream's incomplete line; writes whole records with one write(2) each."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self.pending: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        buf = self.pending[stream] + data
        out = []
        ts = timestamp().encode()
        tag = stream.encode()
        while True:
            nl = buf.find(b"\n")
            if nl < 0 or nl > MAX_LINE:
                if len(buf) >= MAX_LINE:
                    out.append(b"%s %s P %s\n" % (ts, tag, buf[:MAX_LINE]))
                    buf = buf[MAX_LINE:]
                    continue
                break
            out.append(b"%s %s F %s\n" % (ts, tag, buf[:nl]))
            buf = buf[nl + 1:]
        self.pending[stream] = buf
        if out:
            os.write(self.fd, b"".join(out))

    def flush(self) -> None:
        """At exit: what is left without a newline is a final record of its own."""
        ts = timestamp().encode()
        for stream, buf in self.pending.items():
            if buf:
                os.write(self.fd, b"%s %s F %s\n" % (ts, stream.encode(), buf))
                self.pending[stream] = b""

    def close(self) -> None:
        self.flush()
        os.close(self.fd)


@dataclass
class LogRecord:
    time: str
    stream: str
    partial: bool
    data: bytes


def parse_line(line: bytes) -> LogRecord | None:
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3:
        return None
    data = parts[3] if len(parts) == 4 else b""
    return LogRecord(parts[0].decode(), parts[1].decode(), parts[2] == b"P", data)


def read_records(f: BinaryIO) -> Iterator[LogRecord]:
    """Whole-line records from F's current position; stops at the end (an incomplete last line is left)."""
    while True:
        pos = f.tell()
        line = f.readline()
        if not line:
            return
        if not line.endswith(b"\n"):
            f.seek(pos)
            return
        rec = parse_line(line)
        if rec is not None:
            yield rec
