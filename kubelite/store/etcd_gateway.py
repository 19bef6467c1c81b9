"""A small client for etcd v3's gRPC-gateway: JSON over HTTP, so no gRPC stack is needed.

etcd (3.4 and later) serves every KV RPC as ``POST /v3/<service>/<method>``
with the protobuf messages in JSON: bytes are base64, 64-bit integers are
strings, and fields at their default value (``false``, ``0``, empty) are left
out, so every read here defaults them. Errors come back as
``{"error", "code", "message"}`` with the gRPC code, mapped to kubelite's.

Failover: endpoints are tried in turn, starting from the last one that
answered. A request that could not even connect is always retried on the
next endpoint; one that failed after it was sent is retried only if it is
idempotent (reads), since a write may have been applied.
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp

from kubelite.errors import Gone, Invalid, KubeliteError, Unavailable

Json = dict[str, Any]

GRPC_OUT_OF_RANGE, GRPC_UNAVAILABLE = 11, 14


def b64(s: str | bytes) -> str:
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def unb64(s: str | None) -> bytes:
    return base64.b64decode(s) if s else b""


def error_from(body: Json, what: str) -> KubeliteError:
    """The kubelite error for an etcd error response (or a canceled watch)."""
    msg = str(body.get("message") or body.get("error") or body.get("cancel_reason") or body)
    code = int(body.get("code", 0))
    if "compacted" in msg:
        return Gone(f"{what}: {msg}")
    if "future revision" in msg or "too large" in msg:
        return Invalid(f"{what}: {msg}")
    if code == GRPC_UNAVAILABLE or "leader" in msg or "timed out" in msg:
        return Unavailable(f"{what}: {msg}")
    return KubeliteError(f"{what}: etcd error {code}: {msg}")


class Gateway:
    def __init__(self, endpoints: list[str], timeout: float, ssl_context: ssl.SSLContext | None = None) -> None:
        if not endpoints:
            raise Invalid("etcd needs at least one endpoint")
        self.endpoints = endpoints  # base URLs: http://host:port
        self._current = 0
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 3.0))
        self._stream_timeout = aiohttp.ClientTimeout(total=None, sock_connect=min(timeout, 3.0), sock_read=None)
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        # One pool for short requests, one for watch streams: a watch holds its connection for its lifetime.
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64, ssl=self._ssl),
                                              json_serialize=json.dumps)
        self._streams = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ssl=self._ssl))

    def _order(self) -> list[int]:
        n = len(self.endpoints)
        return [(self._current + i) % n for i in range(n)]

    async def call(self, path: str, body: Json, *, idempotent: bool) -> Json:
        last: Exception | None = None
        for i in self._order():
            url = self.endpoints[i] + path
            try:
                async with self._session.post(url, data=json.dumps(body), timeout=self._timeout) as resp:
                    data: Json = await resp.json(content_type=None)
            except aiohttp.ClientConnectorError as e:
                last = e
                continue
            except (aiohttp.ClientError, TimeoutError, ValueError) as e:
                if not idempotent:
                    raise Unavailable(f"etcd {url}: {e or type(e).__name__} (the write may or may not have"
                                      " been applied)") from e
                last = e
                continue
            self._current = i
            if "header" not in data and ("error" in data or "code" in data):
                err = error_from(data, path)
                if isinstance(err, Unavailable) and idempotent:
                    last = err
                    continue
                raise err
            return data
        raise Unavailable(f"no etcd endpoint answered ({', '.join(self.endpoints)}): {last}")

    async def stream(self, path: str, body: Json) -> AsyncGenerator[Json, None]:
        """POST and yield each JSON message of a streaming response (the watch RPC), on the first endpoint up."""
        last: Exception | None = None
        for i in self._order():
            try:
                resp = await self._streams.post(self.endpoints[i] + path, data=json.dumps(body),
                                                timeout=self._stream_timeout)
            except (aiohttp.ClientError, TimeoutError) as e:
                last = e
                continue
            self._current = i
            try:
                buf = b""
                async for chunk in resp.content.iter_any():
                    buf += chunk
                    while (nl := buf.find(b"\n")) >= 0:
                        line, buf = buf[:nl], buf[nl + 1:]
                        if line.strip():
                            yield json.loads(line)
                if buf.strip():
                    yield json.loads(buf)
            finally:
                resp.close()
            return
        raise Unavailable(f"no etcd endpoint answered ({', '.join(self.endpoints)}): {last}")

    async def close(self) -> None:
        await self._session.close()
        await self._streams.close()
