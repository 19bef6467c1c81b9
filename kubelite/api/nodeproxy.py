"""The API server's half of logs, exec, attach and port-forward: find the pod's node, splice to its agent.

kube-apiserver does not speak the streaming protocols itself; it finds the
node (``spec.nodeName``), the node's address (``status.addresses``:
InternalIP, then ExternalIP, then Hostname) and the agent's port
(``status.daemonEndpoints.kubeletEndpoint.Port``), and proxies. So do we, one
level lower: an upgrade request (WebSocket or SPDY) is written to the agent
as raw HTTP/1.1 over TLS, and if the agent answers 101 the client gets the
same 101 and from then on the two connections are spliced byte for byte (see
:mod:`kubelite.api.hijack`), so every protocol the agent speaks works through
us unchanged. A plain request (logs, ``-f`` included) is relayed chunk by
chunk with aiohttp's client.

The agent trusts only the cluster CA's ``kube-apiserver-kubelet-client``
certificate, issued at start-up into ``pki/apiserver-kubelet-client.{crt,key}``
like kubeadm's; the agent's own serving certificate is self-signed and not
verified, as kube-apiserver does without ``--kubelet-certificate-authority``.

``nodes/NAME/proxy/PATH`` (:func:`node_proxy`) is the same relay for a path of
the agent's own (``kubectl get --raw /api/v1/nodes/N/proxy/stats/summary``):
GET only, and only paths the agent serves, so a typo is our 404 Status rather
than the agent's bare one. Who may use it is the authorizer's business
(``nodes/proxy``: cluster admins), as in Kubernetes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from kubelite.api.errors import MethodNotAllowed
from kubelite.api.hijack import RawConnection, switch_protocols
from kubelite.api.registry import REGISTRY
from kubelite.api.security.files import write_private
from kubelite.api.security.pki import Pki
from kubelite.api.storage import Storage
from kubelite.errors import NotFound, Unavailable

KUBELET_CLIENT_CN = "kube-apiserver-kubelet-client"
KUBELET_CLIENT: web.AppKey[ssl.SSLContext] = web.AppKey("kubelet_client", ssl.SSLContext)
# Never forwarded: our own credentials and per-hop headers.
_DROP = {"host", "authorization", "content-length", "transfer-encoding", "keep-alive", "proxy-authorization",
         "proxy-connection", "te", "trailer", "cookie"}
_DROP_PREFIX = ("impersonate-",)
_RESPONSE_KEEP = {"upgrade", "connection", "sec-websocket-accept", "sec-websocket-protocol",
                  "sec-websocket-extensions", "x-stream-protocol-version"}
CONNECT_TIMEOUT = 10.0
# what nodes/NAME/proxy/PATH may reach: the agent's plain (non-upgrade) paths
NODE_PATHS = ("healthz", "stats/summary")
NODE_PATH_PREFIXES = ("containerLogs/",)


def kubelet_client_context(pki: Pki) -> ssl.SSLContext:
    """The TLS context the API server dials agents with, presenting a fresh kubelet-client certificate."""
    cert, key = pki.issue_client_cert(KUBELET_CLIENT_CN, ("kubeadm:cluster-admins",))
    cert_path, key_path = pki.directory / "apiserver-kubelet-client.crt", pki.directory / "apiserver-kubelet-client.key"
    write_private(cert_path, cert)
    write_private(key_path, key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


def node_endpoint(node: Mapping[str, Any]) -> tuple[str, int]:
    """(address, port) of the node's agent; Unavailable when the node has not published them."""
    name = (node.get("metadata") or {}).get("name", "")
    status = node.get("status") or {}
    port = int((((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")) or 0)
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or [] if isinstance(a, dict)}
    address = next((addresses[t] for t in ("InternalIP", "ExternalIP", "Hostname") if addresses.get(t)), "")
    if not address or port <= 0:
        raise Unavailable(f'node "{name}" has no kubelet endpoint: it has not reported an address and port yet')
    return address, port


def agent_authority(host: str, port: int) -> str:
    """``host:port``, an IPv6 address in brackets: the URL's authority and the Host header."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def agent_url(host: str, port: int, path_qs: str) -> str:
    return f"https://{agent_authority(host, port)}{path_qs}"


async def node_proxy(req: web.Request, storage: Storage, name: str, path: str) -> web.StreamResponse:
    """``GET nodes/NAME/proxy/PATH``: the agent's answer to ``/PATH`` (query included), relayed."""
    if req.method != "GET":
        raise MethodNotAllowed()
    if path not in NODE_PATHS and not path.startswith(NODE_PATH_PREFIXES):
        raise NotFound(f'the node agent does not serve "/{path}" (it serves /{", /".join(NODE_PATHS)} and '
                       f"/{NODE_PATH_PREFIXES[0]}NAMESPACE/POD/CONTAINER)")
    nodes = REGISTRY.lookup("", "v1", "nodes")
    assert nodes is not None
    host, port = node_endpoint(await storage.get(nodes, "", name))
    qs = req.query_string
    return await proxy(req, host, port, f"/{path}" + (f"?{qs}" if qs else ""))


def _forward_headers(req: web.Request, host: str, port: int) -> CIMultiDict[str]:
    out: CIMultiDict[str] = CIMultiDict()
    for k, v in req.headers.items():
        low = k.lower()
        if low in _DROP or low.startswith(_DROP_PREFIX):
            continue
        out.add(k, v)
    out["Host"] = agent_authority(host, port)
    return out


async def proxy(req: web.Request, host: str, port: int, path_qs: str) -> web.StreamResponse:
    """Send ``req`` to the agent at ``host:port`` as ``path_qs``; relay the answer, spliced if it is a 101."""
    ctx = req.app.get(KUBELET_CLIENT)
    if ctx is None:
        raise Unavailable("the API server has no credentials for the node agents (it runs without TLS)")
    if req.headers.get("Upgrade"):
        return await _proxy_upgrade(req, host, port, path_qs, ctx)
    return await _proxy_plain(req, host, port, path_qs, ctx)


async def _proxy_plain(req: web.Request, host: str, port: int, path_qs: str, ctx: ssl.SSLContext
                       ) -> web.StreamResponse:
    url = agent_url(host, port, path_qs)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
        try:
            upstream = await session.request(req.method, url, ssl=ctx, data=await req.read() or None,
                                             headers={"Accept": req.headers.get("Accept", "*/*")})
        except (aiohttp.ClientError, OSError) as e:
            raise Unavailable(f"error dialing backend: {e}") from None
        async with upstream:
            resp = web.StreamResponse(status=upstream.status, headers={
                "Content-Type": upstream.headers.get("Content-Type", "text/plain")})
            await resp.prepare(req)
            gone = asyncio.create_task(_client_gone(req))
            try:
                with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                    while True:
                        chunk = asyncio.ensure_future(upstream.content.readany())
                        await asyncio.wait([chunk, gone], return_when=asyncio.FIRST_COMPLETED)
                        if not chunk.done():  # `logs -f` of a quiet container: do not wait for its next line
                            chunk.cancel()
                            break
                        data = chunk.result()
                        if not data:
                            break
                        await resp.write(data)
            finally:
                gone.cancel()
            return resp


async def _client_gone(req: web.Request, every: float = 1.0) -> None:
    """Returns once the client's connection is closed (aiohttp does not cancel handlers when it is)."""
    while req.transport is not None and not req.transport.is_closing():
        await asyncio.sleep(every)


async def _proxy_upgrade(req: web.Request, host: str, port: int, path_qs: str, ctx: ssl.SSLContext
                         ) -> web.StreamResponse:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ctx, server_hostname=host), CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ssl.SSLError) as e:
        raise Unavailable(f"error dialing backend: {e}") from None
    try:
        head = [f"{req.method} {path_qs} HTTP/1.1"]
        head += [f"{k}: {v}" for k, v in _forward_headers(req, host, port).items()]
        if req.method == "POST":
            head.append("Content-Length: 0")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        status, reason, headers = await _read_head(reader)
        if status != 101:
            body = await _read_body(reader, headers)
            return web.Response(status=status, reason=reason, body=body,
                                headers={"Content-Type": headers.get("Content-Type", "text/plain")})
        conn = await switch_protocols(req, {k: v for k, v in headers.items() if k.lower() in _RESPONSE_KEEP})
        await _splice(conn, reader, writer)
        return conn.response
    finally:
        writer.close()


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, str, CIMultiDict[str]]:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as e:
        raise Unavailable(f"the node agent closed the connection: {e}") from None
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        raise Unavailable(f"the node agent answered {lines[0]!r}") from None
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            headers.add(k.strip(), v.strip())
    return status, parts[2] if len(parts) > 2 else "", headers


async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> bytes:
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, ValueError):
        if "Content-Length" in headers:
            return await reader.readexactly(int(headers["Content-Length"]))
        return await reader.read(1 << 20)
    return b""


async def _splice(conn: RawConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy both ways until either side hangs up, then hang up the other."""
    async def up() -> None:
        while data := await conn.read():
            writer.write(data)
            await writer.drain()

    async def down() -> None:
        while data := await reader.read(65536):
            await conn.write(data)

    tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        conn.close()
