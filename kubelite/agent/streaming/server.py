"""The node's streaming HTTPS server: the kubelet's logs, exec, attach and port-forward paths.

Paths and query parameters are the kubelet's, so the API server only has to
move the request to the node: ``/containerLogs/NS/POD/CONTAINER``,
``/exec/NS/POD/CONTAINER?command=..``, ``/attach/NS/POD/CONTAINER``,
``/portForward/NS/POD``, and ``/stats/summary`` (:mod:`.stats`, when the
pods source can list its pods, :class:`.backend.StatsSource`). Every request is authenticated first (the cluster
CA's client certificate with the API server's CN, see :mod:`.tls`).

Each of exec, attach and port-forward answers whichever upgrade the client
asks for: a WebSocket with one of the channel subprotocols (or, for
port-forward, SPDY tunneled in WebSocket messages as kubectl 1.30+ does), or a
SPDY/3.1 upgrade negotiated with ``X-Stream-Protocol-Version``. Errors found
before the upgrade (no such pod or container, container not running, bad
parameters) are plain ``metav1.Status`` responses, which the API server passes
on to the client unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from kubelite.agent.streaming import portforward as pf
from kubelite.agent.streaming.backend import ContainerRef, PodContainers, StatsSource
from kubelite.agent.streaming.channels import SPDY_PROTOCOLS, WS_PROTOCOLS, SpdyStreams, WebSocketStreams
from kubelite.agent.streaming.logs import parse_options, stream_log
from kubelite.agent.streaming.remotecommand import run_attach, run_exec, running_state
from kubelite.agent.streaming.spdy import SpdySession
from kubelite.agent.streaming.stats import SummaryCollector
from kubelite.agent.streaming.tls import APISERVER_CLIENT_CN, client_cn, server_context
from kubelite.api.errors import BadRequest, to_status
from kubelite.api.hijack import switch_protocols
from kubelite.errors import Forbidden, KubeliteError, NotFound, Unauthorized

log = logging.getLogger(__name__)
STREAM_CREATION_TIMEOUT = 30.0
FINISH_GRACE = 5.0


def _error(e: BaseException) -> web.Response:
    st = to_status(e)
    return st.response()


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except KubeliteError as e:
        return _error(e)
    except web.HTTPException:
        raise
    except (ConnectionError, asyncio.CancelledError):
        raise
    except Exception as e:  # noqa: BLE001 - a bug: log it, answer a Status, never a traceback
        log.exception("streaming: internal error serving %s", request.path)
        return _error(e)


def _authenticate(allowed_cn: str) -> Middleware:
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        transport = request.transport
        cn = client_cn(transport.get_extra_info("ssl_object") if transport is not None else None)
        if cn is None:
            raise Unauthorized("Unauthorized: a client certificate is required")
        if cn != allowed_cn:
            raise Forbidden(f'Forbidden: user "{cn}" may not use the node\'s streaming API')
        return await handler(request)
    return authenticate


def _flag(req: web.Request, *names: str) -> bool:
    return any(req.query.get(n, "").lower() in ("true", "1") for n in names)


def _client_protocols(req: web.Request) -> list[str]:
    out: list[str] = []
    for value in req.headers.getall("X-Stream-Protocol-Version", []):
        out += [p.strip() for p in value.split(",") if p.strip()]
    return out


def _negotiate(req: web.Request, supported: tuple[str, ...]) -> str:
    offered = _client_protocols(req)
    for p in offered:
        if p in supported:
            return p
    raise Forbidden(f"unable to upgrade: unable to negotiate protocol: client supports {offered}, "
                    f"server supports {list(supported)}")


def _is_spdy(req: web.Request) -> bool:
    return req.headers.get("Upgrade", "").lower().startswith("spdy/") and \
        "upgrade" in req.headers.get("Connection", "").lower()


def _is_ws(req: web.Request) -> bool:
    return req.headers.get("Upgrade", "").lower() == "websocket"


async def _spdy_session(req: web.Request, protocol: str,
                        on_stream: Callable[..., Awaitable[None] | None]
                        ) -> tuple[web.StreamResponse, asyncio.Task[None]]:
    conn = await switch_protocols(req, {"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                        "X-Stream-Protocol-Version": protocol})
    session = SpdySession(conn, on_stream)
    task = asyncio.create_task(session.run(), name="spdy session")
    task.add_done_callback(lambda _t: conn.close())
    return conn.response, task


async def _end(task: asyncio.Task[None], grace: float = FINISH_GRACE) -> None:
    """Give the client a moment to read the last frames and hang up itself, then hang up."""
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), grace)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class StreamingServer:
    """``await start()``, ``await stop()``; ``port`` is the bound port (useful with port 0)."""

    def __init__(self, pods: PodContainers, ca_pem: bytes, host: str = "0.0.0.0", port: int = 10250,
                 hostnames: list[str] | None = None, allowed_cn: str = APISERVER_CLIENT_CN) -> None:
        self.pods = pods
        self.ca_pem = ca_pem
        self.host = host
        self.port = port
        self.hostnames = hostnames or ["localhost"]
        self.allowed_cn = allowed_cn
        self.runner: web.AppRunner | None = None
        # sessions served, by "verb/transport:subprotocol": what clients really negotiated, for operators and tests
        self.served: Counter[str] = Counter()
        self.active: Counter[str] = Counter()  # requests in progress, by kind: a session that never ends shows here
        # one collector for the server's life: it keeps the CPU samples usageNanoCores is computed from
        self.stats = SummaryCollector(pods) if isinstance(pods, StatsSource) else None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_errors, _authenticate(self.allowed_cn)])
        app.router.add_get("/containerLogs/{ns}/{pod}/{container}", self._counted("logs", self.logs))
        for verb in ("exec", "attach"):
            handler = self._counted(verb, self.remote_command)
            app.router.add_route("GET", f"/{verb}/{{ns}}/{{pod}}/{{container}}", handler)
            app.router.add_route("POST", f"/{verb}/{{ns}}/{{pod}}/{{container}}", handler)
        forward = self._counted("portforward", self.port_forward)
        app.router.add_route("GET", "/portForward/{ns}/{pod}", forward)
        app.router.add_route("POST", "/portForward/{ns}/{pod}", forward)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/stats/summary", self._counted("stats", self.summary))
        return app

    def _counted(self, kind: str, handler: Handler) -> Handler:
        async def counted(req: web.Request) -> web.StreamResponse:
            self.active[kind] += 1
            try:
                return await handler(req)
            finally:
                self.active[kind] -= 1
        return counted

    async def start(self) -> None:
        if not self.ca_pem:
            # Without the cluster CA nobody can be authenticated, and an open exec port is a root shell for
            # anyone: stay off (the API server of an insecure development cluster cannot stream either).
            log.warning("node streaming server not started: no cluster CA to authenticate the API server with")
            return
        ips = [self.host] if self.host not in ("", "0.0.0.0", "::") else []
        ctx = server_context(self.ca_pem, self.hostnames, [*ips, "127.0.0.1"])
        self.runner = web.AppRunner(self.app(), handle_signals=False, access_log=None, shutdown_timeout=2.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port, ssl_context=ctx, reuse_address=True)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("node streaming server listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def _find(self, req: web.Request, container: bool = True) -> ContainerRef:
        m = req.match_info
        ref = self.pods.find(m["ns"], m["pod"], m["container"] if container else None)
        if container and ref.record is None:
            raise NotFound(f'container "{m["container"]}" in pod "{m["pod"]}" has not started yet')
        return ref

    async def healthz(self, req: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def summary(self, req: web.Request) -> web.Response:
        if self.stats is None:
            raise NotFound("stats are not served on this node")
        only = req.query.get("only_cpu_and_memory", "false")
        if only.lower() not in ("true", "t", "1", "false", "f", "0"):  # Go's strconv.ParseBool, as the kubelet
            raise BadRequest(f'invalid value for only_cpu_and_memory: "{only}" (expected true or false)')
        out = await self.stats.summary(only_cpu_and_memory=only.lower() in ("true", "t", "1"))
        return web.json_response(out)

    async def logs(self, req: web.Request) -> web.StreamResponse:
        opts = parse_options(req.query)
        ref = self._find(req)
        record = ref.record
        assert record is not None  # _find saw to it
        path = ref.log_path
        if opts.previous:
            if not ref.previous_log_path:
                raise BadRequest(f'previous terminated container "{req.match_info["container"]}" in pod '
                                 f'"{req.match_info["pod"]}" not found')
            path = ref.previous_log_path
            opts.follow = False

        def running() -> bool:
            # A client that has gone away ends a follow too, even if the container logs nothing more.
            if req.transport is None or req.transport.is_closing():
                return False
            return ref.engine.view(record).status == "running"

        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(req)
        with contextlib.suppress(ConnectionError):
            async for chunk in stream_log(path, opts, running):
                await resp.write(chunk)
        return resp

    async def remote_command(self, req: web.Request) -> web.StreamResponse:
        attach = req.path.startswith("/attach/")
        verb = "attach" if attach else "exec"
        ref = self._find(req)
        command = req.query.getall("command", [])
        if not attach and not command:
            raise BadRequest("you must specify at least 1 command")
        stdin, stdout = _flag(req, "stdin", "input"), _flag(req, "stdout", "output")
        stderr, tty = _flag(req, "stderr", "error"), _flag(req, "tty")
        if not (stdin or stdout or stderr):
            raise BadRequest("you must specify at least 1 of stdin, stdout, stderr")
        m = req.match_info
        running_state(ref, f'container "{m["container"]}" in pod "{m["pod"]}"')

        async def run(streams: SpdyStreams | WebSocketStreams) -> None:
            if attach:
                await run_attach(ref, streams)
            else:
                await run_exec(ref, command, streams)

        if _is_ws(req):
            ws = web.WebSocketResponse(protocols=WS_PROTOCOLS, max_msg_size=0)
            await ws.prepare(req)
            wss = WebSocketStreams(ws, stdin, stdout, stderr, tty)
            self.served[f"{verb}/websocket:{wss.protocol}"] += 1
            await run(wss)
            return ws
        if not _is_spdy(req):
            raise BadRequest("Upgrade request required")
        protocol = _negotiate(req, SPDY_PROTOCOLS)
        streams = SpdyStreams(protocol, stdin, stdout, stderr, tty)
        self.served[f"{verb}/spdy:{protocol}"] += 1
        resp, task = await _spdy_session(req, protocol, streams.add)
        task.add_done_callback(lambda _t: self._client_gone(streams))
        ready = asyncio.create_task(streams.ready.wait())
        await asyncio.wait([ready, task], timeout=STREAM_CREATION_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if streams.ready.is_set():
            await run(streams)
        ready.cancel()
        await _end(task)
        return resp

    @staticmethod
    def _client_gone(streams: SpdyStreams) -> None:
        streams.stdin_queue.put_nowait(b"")
        streams.resizes.put_nowait(None)
        streams.gone.set()

    async def port_forward(self, req: web.Request) -> web.StreamResponse:
        ref = self._find(req, container=False)
        pod = req.match_info["pod"]
        try:
            ports = [pf.parse_port(p) for p in req.query.getall("port", [])]
        except ValueError as e:
            raise BadRequest(str(e)) from None
        if _is_ws(req):
            offered = [p.strip() for p in req.headers.get("Sec-WebSocket-Protocol", "").split(",")]
            tunnel = pf.TUNNEL_PREFIX + pf.SPDY_PROTOCOL
            if tunnel in offered:
                ws = web.WebSocketResponse(protocols=(tunnel,), max_msg_size=0)
                await ws.prepare(req)
                self.served[f"portforward/websocket:{tunnel}"] += 1
                fwd = pf.SpdyPortForward(ref.netns_path, pod)
                try:
                    await SpdySession(pf.WebSocketBytes(ws), fwd.on_stream).run()
                finally:
                    await fwd.close()
                    await ws.close()
                return ws
            if not ports:
                raise BadRequest("query parameter \"port\" is required")
            ws = web.WebSocketResponse(protocols=pf.WS_PROTOCOLS, max_msg_size=0)
            await ws.prepare(req)
            self.served[f"portforward/websocket:{ws.ws_protocol}"] += 1
            await pf.websocket_channels(ws, ref.netns_path, pod, ports)
            return ws
        if not _is_spdy(req):
            raise BadRequest("Upgrade request required")
        protocol = _negotiate(req, (pf.SPDY_PROTOCOL,))
        self.served[f"portforward/spdy:{protocol}"] += 1
        fwd = pf.SpdyPortForward(ref.netns_path, pod)
        resp, task = await _spdy_session(req, protocol, fwd.on_stream)
        try:
            await task
        finally:
            await fwd.close()
        return resp
