"""The shim's writer of a container's stdin: queued, never blocking the shim's one loop.

The shim relays output, accepts clients and reaps the container from one
select loop, so a blocking write to a container that does not read its stdin
would stop all of that (its log, every attach, the exit status). Attach
clients' STDIN frames are queued here instead and written as the pipe (or the
pty) takes them; the shim watches :attr:`fd` for writability while
:meth:`wants_write` and stops reading from clients while :meth:`full`, so a
fast sender is slowed by its own socket rather than buffered without bound.

A close request (an empty STDIN payload) takes effect after what was queued
before it, as the end of a file follows its contents. A terminal has no end
of input, so a pty's writer is not closable and ignores the request.
"""

from __future__ import annotations

import os

QUEUE_LIMIT = 1 << 20


class StdinWriter:
    def __init__(self, fd: int, closable: bool) -> None:
        os.set_blocking(fd, False)
        self.fd: int | None = fd
        self.closable = closable
        self.pending = bytearray()
        self.close_requested = False

    def feed(self, payload: bytes) -> None:
        """Queue a client's STDIN payload (empty: close once the queue is written) and write what fits."""
        if self.fd is None or self.close_requested:
            return
        if payload:
            self.pending += payload
        elif self.closable:
            self.close_requested = True
        self.flush()

    def flush(self) -> None:
        while self.pending and self.fd is not None:
            try:
                n = os.write(self.fd, self.pending)
            except BlockingIOError:
                return
            except OSError:  # the container closed its end: what it will never read is dropped
                self.pending.clear()
                return
            del self.pending[:n]

    def wants_write(self) -> bool:
        return self.fd is not None and bool(self.pending)

    def full(self) -> bool:
        return len(self.pending) >= QUEUE_LIMIT

    def done(self) -> bool:
        """A close was asked for and everything before it is written: the caller unwatches, then closes."""
        return self.close_requested and not self.pending

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.pending.clear()
