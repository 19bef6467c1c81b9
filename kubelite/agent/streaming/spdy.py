"""A SPDY/3.1 server session: what kubectl's SPDY fallback and port-forward tunnel speak.

Kubernetes uses SPDY only as a stream multiplexer (moby/spdystream): the
client opens every stream (SYN_STREAM with a ``streamtype`` header and, for
port-forward, ``port`` and ``requestid``), waits for our SYN_REPLY, and both
sides half-close with an empty DATA frame flagged FIN. spdystream implements no
flow control, so WINDOW_UPDATE and SETTINGS are read and ignored; PING is
echoed, since the client pings every few seconds and gives up on silence.

Header blocks are compressed with one zlib stream per direction for the whole
session, primed with the SPDY/3 dictionary and flushed (Z_SYNC_FLUSH) after
each block, so the compressor and decompressor live on the session, not the
frame. The byte pipe underneath is anything with ``read()``/``write()``: the
hijacked HTTP connection, or binary WebSocket messages when kubectl tunnels
SPDY over a WebSocket (``SPDY/3.1+portforward.k8s.io``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import zlib
from collections.abc import Awaitable, Callable
from typing import Protocol

from kubelite.agent.streaming.spdydict import DICTIONARY

log = logging.getLogger(__name__)

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
RST_CANCEL = 5
MAX_DATA = 0xFFFFFF
BUFFERED = 1 << 20  # per stream; beyond it the session stops reading, and TCP pushes back on the client
_U32 = struct.Struct(">I")


class ByteTransport(Protocol):
    async def read(self) -> bytes: ...  # b"" at end of stream
    async def write(self, data: bytes) -> None: ...


def encode_headers(headers: dict[str, str]) -> bytes:
    out = [_U32.pack(len(headers))]
    for name, value in headers.items():
        n, v = name.lower().encode(), value.encode()
        out += [_U32.pack(len(n)), n, _U32.pack(len(v)), v]
    return b"".join(out)


def decode_headers(block: bytes) -> dict[str, str]:
    """Names lower-cased; several values of one name (NUL-separated) keep the first."""
    (count,), pos = _U32.unpack_from(block), 4
    out: dict[str, str] = {}
    for _ in range(count):
        (n,) = _U32.unpack_from(block, pos)
        name = block[pos + 4:pos + 4 + n].decode("latin-1").lower()
        pos += 4 + n
        (n,) = _U32.unpack_from(block, pos)
        value = block[pos + 4:pos + 4 + n].decode("latin-1")
        pos += 4 + n
        out.setdefault(name, value.split("\0")[0])
    return out


class SpdyStream:
    """One client-opened stream: read until b"", write, half-close with ``close()``."""

    def __init__(self, session: SpdySession, stream_id: int, headers: dict[str, str]) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.buffered = 0
        self.drained = asyncio.Event()
        self.drained.set()
        self.remote_done = False
        self.local_done = False

    @property
    def type(self) -> str:
        return self.headers.get("streamtype", "")

    async def read(self) -> bytes:
        if self.remote_done and self.queue.empty():
            return b""
        data = await self.queue.get()
        self.buffered -= len(data)
        if self.buffered <= BUFFERED:
            self.drained.set()
        return data

    def _deliver(self, data: bytes, fin: bool) -> None:
        if self.remote_done:
            return
        if data:
            self.queue.put_nowait(data)
            self.buffered += len(data)
            if self.buffered > BUFFERED:
                self.drained.clear()
        if fin:
            self.remote_done = True
            self.queue.put_nowait(b"")
            self._forget_if_done()

    def _forget_if_done(self) -> None:
        """A stream closed both ways is dropped, so a long port-forward does not pile up dead streams."""
        if self.remote_done and self.local_done:
            self.session.streams.pop(self.id, None)

    async def write(self, data: bytes) -> None:
        if self.local_done or self.session.closed:
            return
        for i in range(0, len(data), MAX_DATA):
            await self.session.send_data(self.id, data[i:i + MAX_DATA], False)

    async def close(self) -> None:
        """Half-close: nothing more from us (an empty DATA frame with FIN)."""
        if self.local_done or self.session.closed:
            return
        self.local_done = True
        await self.session.send_data(self.id, b"", True)
        self._forget_if_done()

    async def reset(self) -> None:
        if not self.session.closed and not (self.local_done and self.remote_done):
            await self.session.send_control(RST_STREAM, 0, _U32.pack(self.id) + _U32.pack(RST_CANCEL))
        self.local_done = True
        self._deliver(b"", True)
        self.drained.set()
        self._forget_if_done()


class SpdySession:
    """The server end. ``on_stream`` is called for each new stream, after its SYN_REPLY has gone out."""

    def __init__(self, transport: ByteTransport, on_stream: Callable[[SpdyStream], Awaitable[None] | None]) -> None:
        self.transport = transport
        self.on_stream = on_stream
        self.streams: dict[int, SpdyStream] = {}
        self.closed = False
        self._buf = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
        self._wlock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    async def _send(self, frame: bytes) -> None:
        async with self._wlock:
            if self.closed:
                return
            try:
                await self.transport.write(frame)
            except (ConnectionError, RuntimeError):
                self.closed = True

    async def send_control(self, ftype: int, flags: int, payload: bytes) -> None:
        head = struct.pack(">HHI", 0x8000 | VERSION, ftype, (flags << 24) | len(payload))
        await self._send(head + payload)

    async def send_data(self, stream_id: int, data: bytes, fin: bool) -> None:
        head = struct.pack(">II", stream_id & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(data))
        await self._send(head + data)

    def _compress(self, headers: dict[str, str]) -> bytes:
        return self._deflate.compress(encode_headers(headers)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    async def run(self) -> None:
        """Read frames until the peer goes away; then every stream reads end-of-stream."""
        try:
            while True:
                frame = await self._next_frame()
                if frame is None:
                    return
                await self._handle(*frame)
        finally:
            self.closed = True
            for s in list(self.streams.values()):
                s._deliver(b"", True)
                s.drained.set()

    async def _fill(self, n: int) -> bool:
        while len(self._buf) < n:
            data = await self.transport.read()
            if not data:
                return False
            self._buf += data
        return True

    async def _next_frame(self) -> tuple[int, int, int, bytes] | None:
        """(control type or -1 for DATA, flags, stream id for DATA, payload)."""
        if not await self._fill(8):
            return None
        first, second = struct.unpack_from(">II", self._buf)
        length = second & 0xFFFFFF
        if not await self._fill(8 + length):
            return None
        payload = bytes(self._buf[8:8 + length])
        del self._buf[:8 + length]
        flags = second >> 24
        if first & 0x80000000:
            return first & 0xFFFF, flags, 0, payload
        return -1, flags, first & 0x7FFFFFFF, payload

    async def _handle(self, ftype: int, flags: int, stream_id: int, payload: bytes) -> None:
        if ftype == -1:
            s = self.streams.get(stream_id)
            if s is not None:
                s._deliver(payload, bool(flags & FLAG_FIN))
                # spdystream has no flow control either: it blocks its reader on a full pipe; so do we.
                await s.drained.wait()
        elif ftype == SYN_STREAM:
            sid = _U32.unpack_from(payload)[0] & 0x7FFFFFFF
            headers = decode_headers(self._inflate.decompress(payload[10:]))
            s = SpdyStream(self, sid, headers)
            self.streams[sid] = s
            if flags & FLAG_FIN:
                s._deliver(b"", True)
            await self.send_control(SYN_REPLY, 0, _U32.pack(sid) + self._compress({}))
            result = self.on_stream(s)
            if result is not None:
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        elif ftype == RST_STREAM:
            s = self.streams.get(_U32.unpack_from(payload)[0] & 0x7FFFFFFF)
            if s is not None:
                s.local_done = True
                s._deliver(b"", True)
                s.drained.set()
                s._forget_if_done()
        elif ftype == PING:
            await self.send_control(PING, 0, payload[:4])
        elif ftype in (HEADERS, SYN_REPLY):
            with contextlib.suppress(zlib.error):
                self._inflate.decompress(payload[4:])  # keep the shared zlib stream in step
        # GOAWAY: no new streams will come; the open ones go on until the connection ends.
        # SETTINGS, WINDOW_UPDATE: spdystream does no flow control; nothing to do.

    async def goaway(self) -> None:
        last = max(self.streams, default=0)
        await self.send_control(GOAWAY, 0, _U32.pack(last) + _U32.pack(0))
