"""Taking over an aiohttp server connection after ``101 Switching Protocols``.

aiohttp switches protocols only for WebSocket; a SPDY/3.1 upgrade (kubectl's
remote-command fallback, the kubelet's native protocol) would have the bytes
that follow parsed as another HTTP request. :func:`switch_protocols` marks the
connection upgraded *before* it sends the 101 (the client speaks the new
protocol only once it has read the 101, so no byte can be misparsed), then
installs a parser that hands every later byte to a queue. The API server uses
it to splice a client's connection to a node agent's, whatever protocol the two
speak; the agent uses it to speak SPDY itself.

It relies on two aiohttp internals, ``RequestHandler._upgraded`` and
``set_parser`` (what aiohttp's own WebSocketResponse uses); both are checked at
call time so an aiohttp upgrade that moves them fails loudly, not silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

from aiohttp import web

from kubelite.errors import SystemFailure

BUFFERED = 1 << 20  # beyond it, stop reading the client until the reader catches up


class _Feeder:
    """The parser aiohttp calls with raw bytes once the connection is ours."""

    def __init__(self, conn: RawConnection) -> None:
        self.conn = conn
        self.queue = conn.queue

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if data:
            self.queue.put_nowait(bytes(data))
            self.conn.buffered += len(data)
            if self.conn.buffered > BUFFERED:
                self.conn.pause()
        return False, b""

    def feed_eof(self) -> None:
        self.queue.put_nowait(b"")


class RawConnection:
    """Bytes in and out of a switched connection; ``read()`` returns ``b""`` at end of stream."""

    def __init__(self, req: web.Request, resp: web.StreamResponse) -> None:
        self.req = req
        self.response = resp
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.eof = False
        self.buffered = 0
        self.paused = False

    def pause(self) -> None:
        if not self.paused and self.req.transport is not None:
            self.paused = True
            self.req.transport.pause_reading()

    async def read(self) -> bytes:
        if self.eof:
            return b""
        data = await self.queue.get()
        self.buffered -= len(data)
        if self.paused and self.buffered <= BUFFERED // 2 and self.req.transport is not None:
            self.paused = False
            self.req.transport.resume_reading()
        if not data:
            self.eof = True
        return data

    async def write(self, data: bytes) -> None:
        transport = self.req.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("the client connection is closed")
        transport.write(data)
        drain = getattr(self.req.protocol, "_drain_helper", None)
        if drain is not None:  # waits only while the transport is paused for a slow reader
            await drain()

    def close(self) -> None:
        if self.req.transport is not None:
            self.req.transport.close()


async def switch_protocols(req: web.Request, headers: Mapping[str, str]) -> RawConnection:
    """Answer 101 with ``headers`` and return the connection, now a plain byte pipe."""
    protocol: Any = req.protocol
    if not hasattr(protocol, "_upgraded") or not hasattr(protocol, "set_parser"):
        raise SystemFailure("this aiohttp version cannot hand over an upgraded connection")
    protocol._upgraded = True
    resp = web.StreamResponse(status=101, reason="Switching Protocols", headers=dict(headers))
    resp.force_close()
    await resp.prepare(req)
    conn = RawConnection(req, resp)
    protocol.set_parser(cast(Any, _Feeder(conn)))
    return conn
