"""Requests of the parts hosted in the API server's own process, handed to its handlers without HTTP.

`kubelite up` runs the scheduler, the controllers and a node agent in the API
server's process. Over the local socket each of their requests cost both ends
HTTP: the client's request machinery, the socket round trip, the server's parser
and response writer, twice the event loop's wake-ups; for a small write that was
half of the request's CPU, the handler the other half. Here such a request is a
:class:`LocalRequest` given to the same middleware chain (authentication,
authorization, the Status of errors) and the same handlers an HTTP request
reaches, under the same identity (its bearer token), and the answer is the
status and body bytes the handler made. What a client sees does not change;
what the server checks does not either.

Watches take it too: the watch handler writes its batches of event lines to a
:class:`LocalStream` instead of a chunked HTTP response, and the client reads them
from there, as it would read the lines of the response. The other streaming
subresources (logs, exec, attach, port-forward, proxy) keep HTTP: they hold a
connection or switch protocols, and they are few.

As for an HTTP request (aiohttp does not cancel a handler when its client goes),
a caller that gives up does not cancel the handler: it runs to its end in a task
of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlencode

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from kubelite.api.handlers import wants_watch

Chain = Callable[[Any], Awaitable[web.StreamResponse]]

# Path segments whose requests hold a connection open or switch protocols: never handled in process.
STREAMING = frozenset({"log", "exec", "attach", "portforward", "proxy"})
STREAM_BUFFER = 64  # writes a stream holds for a slow reader before its writer waits (a socket's buffer)


class LocalStream(web.StreamResponse):
    """The response a streaming handler writes to for a request made in process: each write goes to the
    reader in order, and the writer waits while the reader is :data:`STREAM_BUFFER` writes behind."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._drained = asyncio.Event()
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def open(self) -> LocalStream:
        if not self.opened.done():
            self.opened.set_result(None)
        return self

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        while self._chunks.qsize() >= STREAM_BUFFER:
            self._drained.clear()
            await self._drained.wait()
        self._chunks.put_nowait(bytes(data))

    def finish(self) -> None:
        self._chunks.put_nowait(None)

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self._chunks.get()
            if self._chunks.qsize() < STREAM_BUFFER:
                self._drained.set()
            if chunk is None:
                return
            yield chunk


class LocalRequest:
    """What the API's middlewares and handlers read of an ``aiohttp.web.Request``, for a request made in
    process: no transport (so no client certificate), the route's ``tail``, and request-scoped values."""

    __slots__ = ("app", "method", "path", "query", "query_string", "headers", "match_info", "_body", "_state",
                 "_stream", "_max_body")

    transport = None
    protocol = None
    host = "localhost"

    def __init__(self, app: web.Application, method: str, path: str, tail: str, params: Mapping[str, str],
                 headers: Mapping[str, str], body: bytes, stream: LocalStream | None = None,
                 max_body: int = 0) -> None:
        self.app = app
        self.method = method
        self.path = path
        self.query: MultiDictProxy[str] = MultiDictProxy(MultiDict(params))
        self.query_string = urlencode(params)
        self.headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict(headers))
        self.match_info = {"tail": tail}
        self._body = body
        self._state: dict[Any, Any] = {}
        self._stream = stream
        self._max_body = max_body

    def open_stream(self) -> web.StreamResponse:
        """For the watch handler: where its events go instead of a chunked HTTP response."""
        if self._stream is None:
            raise RuntimeError(f"{self.method} {self.path}: a stream was not asked for")
        return self._stream.open()

    @property
    def path_qs(self) -> str:
        return f"{self.path}?{self.query_string}" if self.query_string else self.path

    async def read(self) -> bytes:
        if self._max_body and len(self._body) > self._max_body:  # what aiohttp's read does over HTTP
            raise web.HTTPRequestEntityTooLarge(max_size=self._max_body, actual_size=len(self._body))
        return self._body

    def __getitem__(self, key: Any) -> Any:
        return self._state[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._state[key] = value

    def __contains__(self, key: Any) -> bool:
        return key in self._state

    def get(self, key: Any, default: Any = None) -> Any:
        return self._state.get(key, default)


class InProcessServer:
    """``await server.call("POST", path, params, body, headers)`` -> ``(status, body)``, for the requests
    :meth:`handles` accepts; ``core`` and ``groups`` are the handlers of the ``/api/`` and ``/apis/`` routes."""

    def __init__(self, app: web.Application, core: Chain, groups: Chain, max_body: int = 0) -> None:
        self.app = app
        self.max_body = max_body
        self._routes = {"api": core, "apis": groups}
        self._chains: dict[str, Chain] = {}
        self._running: set[asyncio.Task[tuple[int, bytes]]] = set()
        self._watches: set[asyncio.Task[tuple[int, bytes]]] = set()
        self.closed = False

    def handles(self, method: str, path: str, params: Mapping[str, str] | None) -> bool:
        if self.closed or method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            return False
        root, _, rest = path.lstrip("/").partition("/")
        if root not in self._routes or not rest or "?" in path or not STREAMING.isdisjoint(rest.split("/")):
            return False  # discovery's roots (/api, /apis) are routes of their own, left to HTTP
        return not params or not wants_watch(params)

    def handles_watch(self, path: str, params: Mapping[str, str]) -> bool:
        return wants_watch(params) and self.handles("GET", path, {})

    def _chain(self, root: str) -> Chain:
        chain = self._chains.get(root)
        if chain is None:
            chain = self._routes[root]
            for mw in reversed(self.app.middlewares):  # aiohttp's order: the first one listed runs first
                chain = _wrap(mw, chain)
            self._chains[root] = chain
        return chain

    async def call(self, method: str, path: str, params: Mapping[str, str] | None, body: bytes | None,
                   headers: Mapping[str, str]) -> tuple[int, bytes]:
        return await asyncio.shield(self._start(method, path, params or {}, headers, body or b"", None))

    def _start(self, method: str, path: str, params: Mapping[str, str], headers: Mapping[str, str], body: bytes,
               stream: LocalStream | None) -> asyncio.Task[tuple[int, bytes]]:
        """The request's run through the middlewares and handlers, as a task of its own."""
        if self.closed:
            raise ConnectionRefusedError("the API server has stopped")
        path = unquote(path)  # as aiohttp gives it: the route and the handlers see decoded names
        root, _, tail = path.lstrip("/").partition("/")
        req = LocalRequest(self.app, method, path, tail, params, headers, body, stream, self.max_body)
        task = asyncio.get_running_loop().create_task(self._answer(self._chain(root), req))
        (self._watches if stream is not None else self._running).add(task)
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task[tuple[int, bytes]]) -> None:
        self._running.discard(task)
        self._watches.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a caller that gave up has nobody to raise it to

    async def watch(self, path: str, params: Mapping[str, str], headers: Mapping[str, str]
                    ) -> tuple[int, bytes, AsyncGenerator[bytes, None] | None]:
        """``(200, b"", chunks)`` once the watch handler streams; ``(status, body, None)`` when it answered
        instead (a refused or bad request). Leaving the chunks ends the handler."""
        stream = LocalStream()
        task = self._start("GET", path, params, headers, b"", stream)
        task.add_done_callback(lambda _t: stream.finish())
        try:
            waits: list[asyncio.Future[Any]] = [task, stream.opened]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not stream.opened.done():
            status, body = task.result()
            return status, body, None
        return 200, b"", self._follow(stream, task)

    @staticmethod
    async def _follow(stream: LocalStream, task: asyncio.Task[tuple[int, bytes]]) -> AsyncGenerator[bytes, None]:
        try:
            async for chunk in stream.chunks():
                yield chunk
        finally:
            task.cancel()  # the reader went: as a closed connection, it ends the handler

    @staticmethod
    async def _answer(chain: Chain, req: LocalRequest) -> tuple[int, bytes]:
        try:
            resp = await chain(req)
        except web.HTTPException as e:  # what the status middleware lets through (below 400)
            return e.status, e.body if isinstance(e.body, bytes) else b""
        if isinstance(resp, LocalStream):  # a watch, ended
            return resp.status, b""
        if not isinstance(resp, web.Response):  # a stream: STREAMING above must have let it through
            raise RuntimeError(f"{req.method} {req.path} answered a stream in process")
        body = resp.body
        if body is None:
            return resp.status, b""
        if not isinstance(body, bytes | bytearray):
            raise RuntimeError(f"{req.method} {req.path} answered a {type(body).__name__} body in process")
        return resp.status, bytes(body)

    async def close(self) -> None:
        """Refuse new calls, end the watches and let the running calls end (as the HTTP server's shutdown
        does)."""
        self.closed = True
        for task in list(self._watches):
            task.cancel()
        if self._running:
            await asyncio.wait(list(self._running), timeout=5)


def _wrap(mw: Any, handler: Chain) -> Chain:
    async def call(req: Any) -> web.StreamResponse:
        out: web.StreamResponse = await mw(req, handler)
        return out

    return call
