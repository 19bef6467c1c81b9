"""An asyncio client of the Kubernetes API, for the parts of kubelite that talk to the API server.

The scheduler, the controllers and the node agent use the API over HTTP exactly as
their Kubernetes counterparts do (never the store underneath), so one server
process can host them or they can run anywhere with a kubeconfig or a token.

Design choices:

- Objects are plain dicts (the JSON of the API); no typed models to keep in step.
- One ``aiohttp.ClientSession`` per client (connection reuse matters: a create is
  a few hundred microseconds of server work, a TLS handshake several ms).
- A non-2xx answer raises the domain error of :mod:`kubelite.errors` that matches
  the Status reason (``NotFound``, ``AlreadyExists``, ``Conflict``, ``Invalid``,
  ``Gone``...), with the Status itself in ``.status``; callers catch the same
  classes the server raises. Connection failures raise ``Unavailable``.
- ``watch`` yields ``(type, object)`` pairs and ends when the server ends the
  stream; a 410 raises ``Gone`` so callers relist (see :mod:`kubelite.api.informer`).
- The parts hosted by the server's own process (control plane, embedded agent) use
  :meth:`APIClient.over_socket`: the server's Unix socket, plain HTTP. TLS over
  loopback cost those processes a sixth of their CPU (asyncio's TLS is Python code
  on every read and write, and each new pooled connection a handshake on both ends).
- A client made by the server for its own process (``APIServer.local_client``) also
  holds an :class:`InProcess` server: its calls and watches go straight to the server's
  middlewares and handlers (:mod:`kubelite.api.inprocess`); logs, exec, attach,
  port-forward and proxy over the socket.
- orjson (:mod:`kubelite.api.jsonfast`) for bodies and watch events: the scheduler
  decodes one event per binding.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
import yaml

from kubelite.api import jsonfast
from kubelite.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    KubeliteError,
    NotFound,
    Unauthorized,
    Unavailable,
)

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}


def resource_path(api_version: str, plural: str, namespace: str | None = None, name: str | None = None,
                  subresource: str | None = None) -> str:
    """``/api/v1/namespaces/NS/pods/NAME/status`` and the like; ``api_version`` is ``v1`` or ``GROUP/VERSION``."""
    root = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    parts = [root]
    if namespace:
        parts.append(f"namespaces/{quote(namespace, safe='')}")
    parts.append(plural)
    if name:
        parts.append(quote(name, safe=""))
        if subresource:
            parts.append(subresource)
    return "/".join(parts)


def error_for(code: int, status: dict[str, Any]) -> KubeliteError:
    """The domain error for an HTTP status code and its ``metav1.Status`` body."""
    reason = status.get("reason", "")
    message = status.get("message") or reason or f"HTTP {code}"
    cls: type[KubeliteError]
    if code == 404:
        cls = NotFound
    elif code == 409:
        cls = AlreadyExists if reason == "AlreadyExists" else Conflict
    elif code == 410:
        cls = Gone
    elif code in (400, 413, 415, 422):
        cls = Invalid
    elif code == 401:
        cls = Unauthorized
    elif code == 403:
        cls = Forbidden
    elif code in (429, 500, 502, 503, 504):
        cls = Unavailable
    else:
        cls = KubeliteError
    err = cls(message)
    err.status = status  # type: ignore[attr-defined]
    err.code = code  # type: ignore[attr-defined]
    return err


class InProcess(Protocol):
    """The API server of this process, for the calls it :meth:`handles` (see :mod:`kubelite.api.inprocess`)."""

    def handles(self, method: str, path: str, params: Mapping[str, str] | None) -> bool: ...

    async def call(self, method: str, path: str, params: Mapping[str, str] | None, body: bytes | None,
                   headers: Mapping[str, str]) -> tuple[int, bytes]: ...

    def handles_watch(self, path: str, params: Mapping[str, str]) -> bool: ...

    async def watch(self, path: str, params: Mapping[str, str], headers: Mapping[str, str]
                    ) -> tuple[int, bytes, AsyncGenerator[bytes, None] | None]: ...


class APIClient:
    """``await client.get(path)`` and friends; ``await client.close()`` when done."""

    def __init__(self, server: str, *, ssl_context: ssl.SSLContext | bool | None = None,
                 token: str | None = None, user_agent: str = "kubelite", unix_socket: str | None = None) -> None:
        self.server = server.rstrip("/")
        self.ssl_context = ssl_context  # read by whoever speaks to the same server by other means
        self.token = token
        self._unix_socket = unix_socket
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._session: aiohttp.ClientSession | None = None
        self.in_process: InProcess | None = None

    # --- construction ---------------------------------------------------------------------------------

    @classmethod
    def from_kubeconfig(cls, path: Path | str, user_agent: str = "kubelite") -> APIClient:
        """A client with the current context of a kubeconfig (inline data or file references)."""
        cfg = yaml.safe_load(Path(path).read_text())
        ctx_name = cfg.get("current-context")
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        server = cluster["server"]
        if not server.startswith("https"):
            return cls(server, token=user.get("token"), user_agent=user_agent)
        ctx_ssl = ssl.create_default_context(cafile=cluster.get("certificate-authority"),
                                             cadata=_b64text(cluster.get("certificate-authority-data")))
        if user.get("client-certificate-data"):
            cert, key = _load_pair(user["client-certificate-data"], user["client-key-data"])
            try:
                ctx_ssl.load_cert_chain(cert, key)
            finally:
                Path(cert).unlink()
                Path(key).unlink()
        elif user.get("client-certificate"):
            ctx_ssl.load_cert_chain(user["client-certificate"], user.get("client-key"))
        return cls(server, ssl_context=ctx_ssl, token=user.get("token"), user_agent=user_agent)

    @classmethod
    def with_token(cls, server: str, token: str, ca_file: Path | str | None = None,
                   user_agent: str = "kubelite") -> APIClient:
        """A client that authenticates with a bearer token; without ``ca_file`` the server is not verified."""
        if ca_file is not None:
            ctx: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca_file))
        else:
            ctx = False
        return cls(server, ssl_context=ctx, token=token, user_agent=user_agent)

    @classmethod
    def over_socket(cls, path: Path | str, token: str | None = None, user_agent: str = "kubelite") -> APIClient:
        """A client of the API server's local socket (plain HTTP, no TLS: it never leaves the machine)."""
        return cls("http://localhost", token=token, user_agent=user_agent, unix_socket=str(path))

    # --- plumbing -------------------------------------------------------------------------------------

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector: aiohttp.BaseConnector
            if self._unix_socket:
                connector = aiohttp.UnixConnector(self._unix_socket, limit=64)
            else:
                connector = aiohttp.TCPConnector(ssl=self.ssl_context if self.ssl_context is not None else True, limit=64)
            self._session = aiohttp.ClientSession(connector=connector, headers=self._headers,
                                                  timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      body: Any = None, content_type: str = "application/json",
                      timeout: float | None = 60) -> dict[str, Any]:
        """One call; the decoded JSON answer, or the matching domain error."""
        data = None
        headers = {}
        if body is not None:
            data = body if isinstance(body, bytes | str) else jsonfast.dumps(body)
            headers["Content-Type"] = content_type
        query = _params(params)
        if self.in_process is not None and self.in_process.handles(method, path, query):
            return await self._in_process(self.in_process, method, path, query, data, headers, timeout)
        try:
            async with self.session.request(method, self.server + path, params=query, data=data,
                                            headers=headers,
                                            timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                raw = await resp.read()
                if resp.status >= 300:
                    raise error_for(resp.status, _status_of(raw, resp.status))
                out: dict[str, Any] = jsonfast.loads(raw) if raw else {}
                return out
        except (TimeoutError, aiohttp.ClientConnectionError, OSError) as e:
            raise Unavailable(f"{method} {path}: {e or type(e).__name__}") from e

    async def _in_process(self, server: InProcess, method: str, path: str, query: dict[str, str] | None,
                          data: bytes | str | None, headers: dict[str, str], timeout: float | None) -> dict[str, Any]:
        body = data.encode() if isinstance(data, str) else data
        try:
            async with asyncio.timeout(timeout):
                status, raw = await server.call(method, path, query, body, {**self._headers, **headers})
        except (TimeoutError, OSError) as e:
            raise Unavailable(f"{method} {path}: {e or type(e).__name__}") from e
        if status >= 300:
            raise error_for(status, _status_of(raw, status))
        out: dict[str, Any] = jsonfast.loads(raw) if raw else {}
        return out

    # --- verbs ----------------------------------------------------------------------------------------

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        return await self.request("GET", path, params=params)

    async def list(self, path: str, **params: Any) -> dict[str, Any]:
        """One page, or every page when ``limit`` is not given (items joined, last resourceVersion kept)."""
        if "limit" in params:
            return await self.request("GET", path, params=params)
        out = await self.request("GET", path, params={**params, "limit": 500})
        while out.get("metadata", {}).get("continue"):
            page = await self.request("GET", path, params={**params, "limit": 500,
                                                           "continue": out["metadata"]["continue"]})
            out["items"].extend(page.get("items") or [])
            out["metadata"] = page.get("metadata", {})
        return out

    async def create(self, path: str, obj: dict[str, Any], **params: Any) -> dict[str, Any]:
        return await self.request("POST", path, params=params, body=obj)

    async def replace(self, path: str, obj: dict[str, Any], **params: Any) -> dict[str, Any]:
        return await self.request("PUT", path, params=params, body=obj)

    async def patch(self, path: str, patch: Any, kind: str = "merge", *, field_manager: str | None = None,
                    force: bool = False, **params: Any) -> dict[str, Any]:
        if field_manager:
            params["fieldManager"] = field_manager
        if force:
            params["force"] = "true"
        return await self.request("PATCH", path, params=params, body=patch, content_type=PATCH_TYPES[kind])

    async def delete(self, path: str, body: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
        return await self.request("DELETE", path, params=params, body=body)

    async def watch(self, path: str, resource_version: str | None = None, *, timeout_seconds: int = 300,
                    bookmarks: bool = True, **params: Any) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """``(type, object)`` events from ``resource_version`` until the server ends the stream."""
        q = {**params, "watch": "true", "timeoutSeconds": timeout_seconds}
        if resource_version:
            q["resourceVersion"] = resource_version
        if bookmarks:
            q["allowWatchBookmarks"] = "true"
        query = _params(q) or {}
        if self.in_process is not None and self.in_process.handles_watch(path, query):
            async for ev in self._watch_in_process(self.in_process, path, query):
                yield ev
            return
        try:
            async with self.session.get(self.server + path, params=query,
                                        timeout=aiohttp.ClientTimeout(total=None, sock_read=timeout_seconds + 30)
                                        ) as resp:
                if resp.status >= 300:
                    raise error_for(resp.status, _status_of(await resp.read(), resp.status))
                async for line in _lines(resp.content):
                    yield _event(line)
        except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as e:
            raise Unavailable(f"watch {path}: {e or type(e).__name__}") from e

    async def _watch_in_process(self, server: InProcess, path: str, query: dict[str, str]
                                ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        try:
            status, raw, chunks = await server.watch(path, query, self._headers)
        except OSError as e:
            raise Unavailable(f"watch {path}: {e or type(e).__name__}") from e
        if chunks is None:
            raise error_for(status, _status_of(raw, status))
        try:
            async for chunk in chunks:
                for line in chunk.split(b"\n"):
                    if line:
                        yield _event(line)
        finally:
            await chunks.aclose()


def _event(line: bytes) -> tuple[str, dict[str, Any]]:
    ev = jsonfast.loads(line)
    if ev.get("type") == "ERROR":
        st = ev.get("object") or {}
        raise error_for(int(st.get("code") or 500), st)
    return ev["type"], ev["object"]


async def _lines(stream: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    while True:
        line = await stream.readline()
        if not line:
            return
        line = line.strip()
        if line:
            yield line


def _params(params: dict[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    out = {}
    for k, v in params.items():
        if v is None:
            continue
        out[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return out


def _status_of(raw: bytes, code: int) -> dict[str, Any]:
    try:
        st = jsonfast.loads(raw)
        if isinstance(st, dict):
            return st
    except ValueError:
        pass
    return {"kind": "Status", "code": code, "message": raw.decode(errors="replace")[:500] or f"HTTP {code}"}


def _b64text(data: str | None) -> str | None:
    return base64.b64decode(data).decode() if data else None


def _load_pair(cert_b64: str, key_b64: str) -> tuple[str, str]:
    """ssl only loads client certificates from files: write them to private temporary files."""
    paths = []
    for data in (cert_b64, key_b64):
        f = tempfile.NamedTemporaryFile("wb", prefix="kubelite-client-", suffix=".pem", delete=False)  # noqa: SIM115
        with f:
            f.write(base64.b64decode(data))
        paths.append(f.name)
    return paths[0], paths[1]
