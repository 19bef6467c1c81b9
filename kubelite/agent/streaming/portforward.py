"""Port-forwarding into a pod's network namespace: SPDY stream pairs and the WebSocket v4 channels.

Every forwarded connection reaches ``127.0.0.1:PORT`` inside the pod's
network namespace through a socket made there (``socket_in_netns``), so a pod
whose only interface is loopback is reachable too.

- SPDY (kubectl, natively or tunneled in WebSocket binary messages as
  ``SPDY/3.1+portforward.k8s.io``): each local connection opens two streams
  with the same ``requestid`` and ``port`` headers, ``streamtype`` ``error``
  and ``data``. Bytes go both ways on the data stream; the client's FIN
  half-closes the TCP connection, and the session ends the data stream once
  the pod side has closed, as kubectl waits for. A connect failure is written
  as text on the error stream.
- WebSocket ``v4.channel.k8s.io`` (the Python client): the ports come from
  the query; port i uses channel 2i for data and 2i+1 for errors, and the
  server's first message on each channel is the port, two bytes
  little-endian. One TCP connection per port, for the life of the socket.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import struct

from aiohttp import WSMsgType, web

from kubelite.agent.streaming.spdy import SpdyStream
from kubelite.runtime.netns import socket_in_netns

WS_PROTOCOLS = ("v4.channel.k8s.io", "v4.base64.channel.k8s.io", "portforward.k8s.io")
SPDY_PROTOCOL = "portforward.k8s.io"
TUNNEL_PREFIX = "SPDY/3.1+"


def parse_port(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"invalid port {raw!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"port {port} must be > 0 and < 65536")
    return port


async def connect(netns_path: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = await asyncio.to_thread(socket_in_netns, netns_path, socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock)


class SpdyPortForward:
    """The ``on_stream`` of a port-forward SPDY session."""

    def __init__(self, netns_path: str, pod: str) -> None:
        self.netns_path = netns_path
        self.pod = pod
        self.pairs: dict[str, dict[str, SpdyStream]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def on_stream(self, s: SpdyStream) -> None:
        rid = s.headers.get("requestid", "")
        pair = self.pairs.setdefault(rid, {})
        pair[s.type] = s
        if "data" in pair and "error" in pair:
            del self.pairs[rid]
            t = asyncio.create_task(self._forward(pair["error"], pair["data"]))
            self.tasks.add(t)
            t.add_done_callback(self.tasks.discard)

    async def _forward(self, error: SpdyStream, data: SpdyStream) -> None:
        raw = data.headers.get("port", "")
        try:
            port = parse_port(raw)
            reader, writer = await connect(self.netns_path, port)
        except (OSError, ValueError) as e:
            await error.write(f"error forwarding port {raw} to pod {self.pod}: failed to connect to "
                              f"localhost:{raw} inside the pod: {e}".encode())
            await error.close()
            await data.close()
            return

        async def up() -> None:
            while chunk := await data.read():
                writer.write(chunk)
                await writer.drain()
            with contextlib.suppress(OSError):
                writer.write_eof()

        uploader = asyncio.create_task(up())
        try:
            while chunk := await reader.read(65536):
                await data.write(chunk)
        except ConnectionError:
            pass
        finally:
            uploader.cancel()
            await asyncio.gather(uploader, return_exceptions=True)
            writer.close()
            await data.close()
            await error.close()

    async def close(self) -> None:
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class WebSocketBytes:
    """A byte pipe over binary WebSocket messages (the SPDY tunnel)."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def read(self) -> bytes:
        while True:
            msg = await self.ws.receive()
            if msg.type == WSMsgType.BINARY:
                if msg.data:
                    return bytes(msg.data)
                continue
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return b""

    async def write(self, data: bytes) -> None:
        if self.ws.closed:
            raise ConnectionResetError("websocket closed")
        await self.ws.send_bytes(data)


async def websocket_channels(ws: web.WebSocketResponse, netns_path: str, pod: str, ports: list[int]) -> None:
    """Serve the v4 channel port-forward protocol until the client closes the socket."""
    b64 = "base64" in (ws.ws_protocol or "")

    async def send(channel: int, data: bytes) -> None:
        if ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            if b64:
                await ws.send_str(chr(ord("0") + channel) + base64.b64encode(data).decode())
            else:
                await ws.send_bytes(bytes([channel]) + data)

    writers: dict[int, asyncio.StreamWriter] = {}
    pumps: list[asyncio.Task[None]] = []

    async def pump(i: int, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                await send(2 * i, chunk)

    for i, port in enumerate(ports):
        prefix = struct.pack("<H", port)
        await send(2 * i, prefix)
        await send(2 * i + 1, prefix)
        try:
            reader, writer = await connect(netns_path, port)
        except OSError as e:
            await send(2 * i + 1, f"error forwarding port {port} to pod {pod}: {e}".encode())
            continue
        writers[i] = writer
        pumps.append(asyncio.create_task(pump(i, reader)))
    async def receive() -> None:
        async for msg in ws:
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                continue
            data = bytes(msg.data) if msg.type == WSMsgType.BINARY else str(msg.data).encode()
            if not data:
                continue
            channel, payload = data[0] - (ord("0") if b64 else 0), data[1:]
            if b64:
                payload = base64.b64decode(payload)
            w = writers.get(channel // 2) if channel % 2 == 0 else None
            if w is not None and payload:
                w.write(payload)
                with contextlib.suppress(ConnectionError):
                    await w.drain()

    # As the kubelet does: the socket closes once every port's connection has ended, or when the client goes.
    receiver = asyncio.create_task(receive())

    async def all_pumps() -> None:
        await asyncio.gather(*pumps, return_exceptions=True)

    ended = asyncio.create_task(all_pumps())
    try:
        await asyncio.wait([receiver, ended], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in [receiver, ended, *pumps]:
            t.cancel()
        await asyncio.gather(receiver, ended, *pumps, return_exceptions=True)
        for w in writers.values():
            w.close()
        await ws.close()
