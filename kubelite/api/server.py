"""The API server process: the aiohttp application and its lifecycle (aiohttp's runner/site split).

:func:`build_app` is pure wiring: routes for discovery, OpenAPI, health and
the resource tree, plus the one error middleware that turns every domain
exception into a ``metav1.Status`` (and any bug into a 500 Status without a
traceback on the wire). :class:`APIServer` owns the order of start and stop:
store, bootstrap objects (system namespaces, the ``kubernetes`` Service), security (TLS + authentication, a pluggable step:
``secure=False`` serves plain HTTP for development), runner, site; and the
reverse on stop, with open watches told to end first so shutdown never waits
for a client.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from kubelite.api import discovery, openapi
from kubelite.api.client import APIClient
from kubelite.api.errors import MethodNotAllowed, to_status
from kubelite.api.handlers import STOPPING, STORAGE, handle, respond
from kubelite.api.inprocess import InProcessServer
from kubelite.api.kubernetes_service import advertise_address, ensure_kubernetes_service
from kubelite.api.nodeproxy import KUBELET_CLIENT, kubelet_client_context
from kubelite.api.registry import REGISTRY, Registry
from kubelite.api.storage import SYSTEM_NAMESPACES, Storage
from kubelite.api.subresources import AUTHORIZER
from kubelite.errors import AlreadyExists, KubeliteError, NotFound
from kubelite.store import Store, open_store

log = logging.getLogger("kubelite.api")

LOCAL_SOCKET = "apiserver.sock"
MAX_BODY = 4 * 1024 * 1024  # a larger request body is refused (413), over HTTP and in process alike
_SUN_PATH_MAX = 108  # sockaddr_un.sun_path, the terminating NUL included
# Kubernetes' loopback client identity: the server acting on its own behalf
LOOPBACK_USER = ("system:apiserver", ("system:masters",))
REGISTRY_KEY: web.AppKey[Registry] = web.AppKey("registry", Registry)


@web.middleware
async def status_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except KubeliteError as e:
        st = to_status(e)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        st = to_status(MethodNotAllowed() if e.status == 405 else
                       NotFound("the server could not find the requested resource") if e.status == 404 else e)
        if e.status not in (404, 405):
            st.code, st.reason = e.status, e.reason.replace(" ", "")
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception as e:  # noqa: BLE001 - a bug: log it, answer a Status, never a traceback
        log.exception("internal error serving %s %s", request.method, request.path_qs)
        st = to_status(e)
    return respond(st.body(), st.code)


def _registry(req: web.Request) -> Registry:
    return req.app[REGISTRY_KEY]


async def version(req: web.Request) -> web.Response:
    return respond(discovery.version_info())


async def health(req: web.Request) -> web.Response:
    return web.Response(text="ok")


async def api_root(req: web.Request) -> web.Response:
    if discovery.wants_aggregated(req.headers.get("Accept", "")):
        return web.Response(body=yaml_free_json(discovery.aggregated(_registry(req), legacy=True)),
                            headers={"Content-Type": discovery.AGGREGATED_V2})
    return respond(discovery.api_versions(req.host))


async def apis_root(req: web.Request) -> web.Response:
    if discovery.wants_aggregated(req.headers.get("Accept", "")):
        return web.Response(body=yaml_free_json(discovery.aggregated(_registry(req), legacy=False)),
                            headers={"Content-Type": discovery.AGGREGATED_V2})
    return respond(discovery.api_group_list(_registry(req)))


def yaml_free_json(obj: Any) -> bytes:
    import json

    return json.dumps(obj, separators=(",", ":")).encode()


async def openapi_root(req: web.Request) -> web.Response:
    return await openapi.serve_root(_registry(req), req)


def _pb_field(number: int, payload: bytes) -> bytes:
    # a length-delimited protobuf field; every length here is under 128 bytes
    return bytes([(number << 3) | 2, len(payload)]) + payload


# An OpenAPI v2 document with no definitions, in the protobuf form kubectl asks for. kubectl validates the
# items of a v1 List against /openapi/v2 and skips kinds it finds no schema for; the real validation is
# the server's (fieldValidation, from the OpenAPI v3 schemas). Fields: swagger = 1, info = 2 {title = 1,
# version = 2} of gnostic's openapi_v2.Document.
OPENAPI_V2 = _pb_field(1, b"2.0") + _pb_field(2, _pb_field(1, b"Kubernetes") + _pb_field(2, b"v1.32.0"))


async def openapi_v2(req: web.Request) -> web.Response:
    if "json" in req.headers.get("Accept", "") and "protobuf" not in req.headers.get("Accept", ""):
        return web.json_response({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
                                  "paths": {}, "definitions": {}})
    return web.Response(body=OPENAPI_V2, content_type="application/com.github.proto-openapi.spec.v2.v1.0+protobuf")


async def openapi_gv(req: web.Request) -> web.Response:
    return await openapi.serve_gv(_registry(req), req.match_info["path"], req)


async def core(req: web.Request) -> web.StreamResponse:
    rest = [p for p in req.match_info["tail"].split("/") if p]
    if not rest or rest[0] != "v1":
        raise NotFound("the server could not find the requested resource")
    if len(rest) == 1:
        if req.method != "GET":
            raise MethodNotAllowed()
        return respond(discovery.resource_list(_registry(req), "", "v1"))
    return await handle(req, _registry(req), "", "v1", rest[1:])


async def groups(req: web.Request) -> web.StreamResponse:
    rest = [p for p in req.match_info["tail"].split("/") if p]
    reg = _registry(req)
    if len(rest) == 1:
        grp = discovery.api_group(reg, rest[0])
        if grp is None:
            raise NotFound("the server could not find the requested resource")
        return respond(grp)
    if len(rest) == 2:
        if not reg.in_group_version(rest[0], rest[1]):
            raise NotFound("the server could not find the requested resource")
        return respond(discovery.resource_list(reg, rest[0], rest[1]))
    return await handle(req, reg, rest[0], rest[1], rest[2:])


def build_app(store: Store, registry: Registry = REGISTRY, middlewares: list[Middleware] | None = None
              ) -> web.Application:
    app = web.Application(middlewares=[status_middleware, *(middlewares or [])], client_max_size=MAX_BODY)
    app[STORAGE] = Storage(store, registry)
    app[REGISTRY_KEY] = registry
    app[STOPPING] = asyncio.Event()
    r = app.router
    r.add_get("/version", version)
    r.add_get("/version/", version)
    for p in ("/healthz", "/livez", "/readyz"):
        r.add_get(p, health)
    r.add_get("/api", api_root)
    r.add_get("/api/", api_root)
    r.add_get("/apis", apis_root)
    r.add_get("/apis/", apis_root)
    r.add_get("/openapi/v2", openapi_v2)
    r.add_get("/openapi/v3", openapi_root)
    r.add_get("/openapi/v3/{path:.*}", openapi_gv)
    r.add_route("*", "/api/{tail:.*}", core)
    r.add_route("*", "/apis/{tail:.*}", groups)

    async def stop_watches(app: web.Application) -> None:
        app[STOPPING].set()

    async def close_storage(app: web.Application) -> None:
        await app[STORAGE].close()

    app.on_shutdown.append(stop_watches)
    app.on_cleanup.append(close_storage)
    return app


async def bootstrap(storage: Storage) -> None:
    """Objects every cluster has: the system namespaces (and their ``default`` ServiceAccounts)."""
    ns = REGISTRY.lookup("", "v1", "namespaces")
    assert ns is not None
    for name in SYSTEM_NAMESPACES:
        try:
            await storage.create(ns, "", {"metadata": {"name": name}})
        except AlreadyExists:
            await storage.default_service_account(name)


@dataclass
class ServerConfig:
    data_dir: Path = Path("/var/lib/kubelite")
    bind_address: str = "0.0.0.0"
    port: int = 6443
    datastore: str = ""  # "" = sqlite in data_dir
    secure: bool = True
    extra_middlewares: list[Middleware] = field(default_factory=list)

    @property
    def store_url(self) -> str:
        if not self.datastore or self.datastore == "sqlite":
            return f"sqlite://{self.data_dir.resolve()}/state.db"
        return self.datastore


def write_insecure_kubeconfig(path: Path, host: str, port: int) -> None:
    host = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host
    host = f"[{host}]" if ":" in host else host
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "kubelite",
           "clusters": [{"name": "kubelite", "cluster": {"server": f"http://{host}:{port}"}}],
           "users": [{"name": "admin", "user": {}}],
           "contexts": [{"name": "kubelite", "context": {"cluster": "kubelite", "user": "admin"}}]}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    path.chmod(0o600)


class APIServer:
    """Start, serve, stop: ``await start()``, then ``await stop()`` (idempotent)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.store: Store | None = None
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.local_socket: Path | None = None
        self.in_process: InProcessServer | None = None
        self._loopback_token: str | None = None

    async def start(self) -> None:
        c = self.config
        c.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = await open_store(c.store_url)
        store: Store = self.store
        middlewares: list[Middleware] = []
        ssl_ctx: ssl.SSLContext | None = None
        if c.secure:
            from kubelite.api.security.setup import setup_security

            sec = setup_security(c.data_dir, bind_address=c.bind_address, port=c.port)
            middlewares, ssl_ctx = sec.middlewares(), sec.ssl_context
            self._loopback_token = sec.authenticator.add_memory_token(*LOOPBACK_USER)
            if sec.encryptor is not None:  # Secrets sealed at rest, below Storage and watches
                from kubelite.api.encrypted_store import EncryptedStore

                store = EncryptedStore(self.store, sec.encryptor)
        app = build_app(store, REGISTRY, [*middlewares, *c.extra_middlewares])
        if c.secure:
            app[AUTHORIZER] = sec.authorizer
            app[KUBELET_CLIENT] = kubelet_client_context(sec.pki)  # how we reach node agents (nodeproxy)
        await bootstrap(app[STORAGE])
        await ensure_kubernetes_service(app[STORAGE], advertise_address(c.bind_address), c.port)
        self.runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=5.0)
        await self.runner.setup()
        self.in_process = InProcessServer(app, core, groups, max_body=MAX_BODY)
        site = web.TCPSite(self.runner, c.bind_address, c.port, ssl_context=ssl_ctx, reuse_address=True)
        await site.start()
        await self._listen_locally(c.data_dir / LOCAL_SOCKET)
        host = "127.0.0.1" if c.bind_address in ("", "0.0.0.0") else c.bind_address
        self.url = f"{'https' if ssl_ctx else 'http'}://{host}:{c.port}"
        if not c.secure:
            write_insecure_kubeconfig(c.data_dir / "kubeconfig.yaml", c.bind_address, c.port)
        log.info("kubelite API server listening on %s", self.url)

    async def _listen_locally(self, path: Path) -> None:
        """Plain HTTP on a Unix socket only root can open, for the parts hosted in this process."""
        if len(str(path.resolve()).encode()) >= _SUN_PATH_MAX:
            log.info("no local socket: %s is too long a path for a Unix socket", path)
            return
        assert self.runner is not None
        path.unlink(missing_ok=True)
        await web.UnixSite(self.runner, str(path)).start()
        path.chmod(0o600)
        self.local_socket = path

    def local_client(self, user_agent: str, token: str | None = None) -> APIClient:
        """A client of this server for a part hosted in its process, as the loopback identity
        (``system:apiserver``, ``system:masters``) unless ``token`` is given: its calls and watches are handed
        to the handlers in process, the streaming subresources go over the local socket when there is one."""
        token = token or self._loopback_token
        if self.local_socket is not None:
            client = APIClient.over_socket(self.local_socket, token, user_agent)
        elif not self.config.secure:
            client = APIClient(self.url, user_agent=user_agent)
        else:
            client = APIClient.with_token(self.url, token or "", ca_file=self.config.data_dir / "pki" / "ca.crt",
                                          user_agent=user_agent)
        client.in_process = self.in_process
        return client

    async def stop(self) -> None:
        if self.in_process is not None:
            await self.in_process.close()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        if self.local_socket is not None:
            self.local_socket.unlink(missing_ok=True)
            self.local_socket = None
        if self.store is not None:
            await self.store.close()
            self.store = None

    async def serve_forever(self) -> None:
        """Run until SIGTERM or SIGINT, then stop cleanly."""
        from kubelite import gcpolicy

        gcpolicy.for_long_running_process()
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, done.set)
        try:
            await self.start()
            await done.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await self.stop()
