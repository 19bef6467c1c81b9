"""One interface for a remote command's streams, whichever wire protocol carries them.

kubectl and the client libraries reach exec and attach over WebSocket
channel protocols (one byte of channel number before each message; ``v4``
adds a JSON ``metav1.Status`` on channel 3, ``v5`` a close message on channel
255 so stdin can end while output goes on; the ``base64.`` variants send text)
or over SPDY/3.1, a stream per channel found by its ``streamtype`` header.
:class:`CommandStreams` hides the difference from the exec and attach code:
read stdin until ``b""``, write stdout or stderr, take terminal sizes, and end
with a Status.

Protocols older than v4 (``channel.k8s.io``, v2, v3) carry a plain error text
in place of the Status and lose the exit code, as Kubernetes' own do.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from typing import Any

from aiohttp import WSMsgType, web

from kubelite.agent.streaming.spdy import SpdyStream

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
WS_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io", "base64.channel.k8s.io",
                "channel.k8s.io")
SPDY_PROTOCOLS = ("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io")
STDIN_BUFFERED = 1 << 20


def status_json(code: int | None, message: str = "", command: list[str] | None = None) -> dict[str, Any]:
    """The Status on the error channel: Success, a non-zero exit code, or a failure with no exit code."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    if code is None:
        return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError",
                "details": {"causes": [{"message": message}]}, "code": 500}
    what = f"error executing command {command}, " if command else ""
    return {"metadata": {}, "status": "Failure",
            "message": message or f"command terminated with non-zero exit code: {what}exit code {code}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


class CommandStreams:
    """What exec and attach see; subclasses speak the wire protocol."""

    def __init__(self, protocol: str, stdin: bool, stdout: bool, stderr: bool, tty: bool) -> None:
        self.protocol = protocol
        self.stdin, self.stdout, self.stderr, self.tty = stdin, stdout, stderr and not tty, tty
        self.stdin_queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.resizes: asyncio.Queue[tuple[int, int] | None] = asyncio.Queue()
        self.gone = asyncio.Event()  # the client went away
        self.stdin_buffered = 0
        self.stdin_room = asyncio.Event()
        self.stdin_room.set()

    @property
    def structured_status(self) -> bool:
        return self.protocol.startswith(("v4.", "v5."))

    async def read_stdin(self) -> bytes:
        data = await self.stdin_queue.get()
        self.stdin_buffered -= len(data)
        if self.stdin_buffered <= STDIN_BUFFERED:
            self.stdin_room.set()
        return data

    async def put_stdin(self, data: bytes) -> None:
        """Queue stdin for the process; wait while too much is queued, so the client is slowed, not buffered."""
        self.stdin_queue.put_nowait(data)
        self.stdin_buffered += len(data)
        if self.stdin_buffered > STDIN_BUFFERED:
            self.stdin_room.clear()
            await self.stdin_room.wait()

    def _resize(self, payload: bytes) -> None:
        for line in payload.decode(errors="replace").splitlines():
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                size = json.loads(line)
                self.resizes.put_nowait((int(size.get("Height", 0)), int(size.get("Width", 0))))

    async def write(self, channel: int, data: bytes) -> None:
        raise NotImplementedError

    async def finish(self, status: dict[str, Any]) -> None:
        raise NotImplementedError

    def _error_payload(self, status: dict[str, Any]) -> bytes:
        if self.structured_status:
            return json.dumps(status).encode()
        return b"" if status.get("status") == "Success" else str(status.get("message", "")).encode()


class WebSocketStreams(CommandStreams):
    def __init__(self, ws: web.WebSocketResponse, stdin: bool, stdout: bool, stderr: bool, tty: bool) -> None:
        super().__init__(ws.ws_protocol or "channel.k8s.io", stdin, stdout, stderr, tty)
        self.ws = ws
        self.b64 = "base64" in self.protocol
        self.reader = asyncio.create_task(self._read_loop(), name="ws channels")

    async def _read_loop(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.BINARY:
                    data = bytes(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    data = str(msg.data).encode()
                else:
                    continue
                if not data:
                    continue
                channel, payload = data[0], data[1:]
                if self.b64:
                    channel -= ord("0")
                    with contextlib.suppress(ValueError):
                        payload = base64.b64decode(payload)
                if channel == STDIN and payload:
                    await self.put_stdin(payload)
                elif channel == RESIZE:
                    self._resize(payload)
                elif channel == CLOSE and payload[:1] == bytes([STDIN]):
                    self.stdin_queue.put_nowait(b"")
        finally:
            self.stdin_queue.put_nowait(b"")
            self.resizes.put_nowait(None)
            self.gone.set()

    async def write(self, channel: int, data: bytes) -> None:
        if self.ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            if self.b64:
                await self.ws.send_str(chr(ord("0") + channel) + base64.b64encode(data).decode())
            else:
                await self.ws.send_bytes(bytes([channel]) + data)

    async def finish(self, status: dict[str, Any]) -> None:
        payload = self._error_payload(status)
        if payload:
            await self.write(ERROR, payload)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


class SpdyStreams(CommandStreams):
    """Built from the streams the client opened; :meth:`add` is the session's ``on_stream``."""

    def __init__(self, protocol: str, stdin: bool, stdout: bool, stderr: bool, tty: bool) -> None:
        super().__init__(protocol, stdin, stdout, stderr, tty)
        self.streams: dict[str, SpdyStream] = {}
        self.ready = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def expected(self) -> set[str]:
        want = {"error"}
        if self.stdin:
            want.add("stdin")
        if self.stdout:
            want.add("stdout")
        if self.stderr:
            want.add("stderr")
        if self.tty and self.protocol not in ("channel.k8s.io", "v2.channel.k8s.io"):
            want.add("resize")
        return want

    def add(self, s: SpdyStream) -> None:
        self.streams[s.type] = s
        if s.type == "stdin":
            self.tasks.append(asyncio.create_task(self._pump_stdin(s)))
        elif s.type == "resize":
            self.tasks.append(asyncio.create_task(self._pump_resize(s)))
        if self.expected() <= set(self.streams):
            self.ready.set()

    async def _pump_stdin(self, s: SpdyStream) -> None:
        while data := await s.read():
            await self.put_stdin(data)
        self.stdin_queue.put_nowait(b"")

    async def _pump_resize(self, s: SpdyStream) -> None:
        buf = b""
        while data := await s.read():
            buf += data
            *lines, buf = buf.split(b"\n")
            # kubectl writes one JSON object per message, not always newline-terminated
            with contextlib.suppress(ValueError):
                json.loads(buf)
                lines.append(buf)
                buf = b""
            for line in lines:
                self._resize(line)
        self.resizes.put_nowait(None)

    async def write(self, channel: int, data: bytes) -> None:
        s = self.streams.get({STDOUT: "stdout", STDERR: "stderr", ERROR: "error"}[channel])
        if s is not None:
            await s.write(data)

    async def finish(self, status: dict[str, Any]) -> None:
        payload = self._error_payload(status)
        err = self.streams.get("error")
        if err is not None and payload:
            await err.write(payload)
        for name in ("stdout", "stderr", "error"):
            if name in self.streams:
                await self.streams[name].close()
        if "stdin" not in self.streams:
            self.stdin_queue.put_nowait(b"")
        for t in self.tasks:
            t.cancel()
