"""A real HTTPS server for the security tests: aiohttp on 127.0.0.1, a random port, in a thread.

The server runs its own event loop in a background thread, so tests can use
blocking clients (http.client, and the real kubectl as a subprocess) against it.
Every route answers 200 ``{"ok": <userInfo>, "path": ...}`` once the
middlewares have let the request through.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from kubelite.api.security.authn import USER, Authenticator, UserInfo, auth_middleware
from kubelite.api.security.authz import Authorizer, authz_middleware
from kubelite.api.security.pki import Pki, ensure_pki, ssl_server_context
from kubelite.api.security.tokens import TokenFile


@dataclass
class Server:
    url: str
    port: int
    pki: Pki
    tokens: TokenFile
    data_dir: Path


async def hello(request: web.Request) -> web.Response:
    user = request[USER]
    assert isinstance(user, UserInfo)
    return web.json_response({"ok": user.to_json(), "path": request.path})


class ThreadedApp:
    """An aiohttp application served over TLS by its own event loop in a background thread."""

    def __init__(self, app: web.Application, ctx: ssl.SSLContext, port: int = 0) -> None:
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app)
        self.ctx = ctx
        self.port = port
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="security-test-server", daemon=True)

    async def _start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port, ssl_context=self.ctx)
        await site.start()
        self.port = self.runner.addresses[0][1]
        self._ready.set()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()

    def start(self) -> int:
        self._thread.start()
        assert self._ready.wait(10), "test server did not start"
        return self.port

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        assert not self._thread.is_alive(), "test server did not stop"


def _serve(data_dir: Path, with_authz: bool) -> Iterator[Server]:
    pki = ensure_pki(data_dir, [], [])
    tokens = TokenFile.in_data_dir(data_dir)
    middlewares = [auth_middleware(Authenticator(pki, tokens))]
    if with_authz:
        middlewares.append(authz_middleware(Authorizer()))
    app = web.Application(middlewares=middlewares)
    app.router.add_route("*", "/{tail:.*}", hello)
    threaded = ThreadedApp(app, ssl_server_context(pki))
    port = threaded.start()
    try:
        yield Server(f"https://127.0.0.1:{port}", port, pki, tokens, data_dir)
    finally:
        threaded.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """Authentication only: every authenticated request reaches the handler."""
    yield from _serve(tmp_path / "data", with_authz=False)


@pytest.fixture
def authz_server(tmp_path: Path) -> Iterator[Server]:
    """Authentication and the authorizer."""
    yield from _serve(tmp_path / "data", with_authz=True)
