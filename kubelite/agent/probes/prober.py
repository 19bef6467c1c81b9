"""One probe check, with the kubelet's verdicts and words.

``run_probe(probe, target)`` makes exactly one check and never raises for a
bad probe or a dead server: the answer is a :class:`ProbeResult` whose
``result`` is ``success``, ``failure`` or ``unknown`` (the kubelet's "errored":
the probe could not be made, e.g. a named port the container does not declare;
the worker throws such a result away). Messages are the ones Go's libraries
produce, because users read them in ``kubectl describe`` and search for them:
``HTTP probe failed with statuscode: 500``, ``dial tcp 127.0.0.1:8080: connect:
connection refused``, ``command "sleep 9" timed out``.

HTTP and TCP connect inside the pod's network namespace through a socket made
there (:func:`kubelite.runtime.netns.socket_in_netns`), to ``host`` when the
probe names one and otherwise to 127.0.0.1 (Kubernetes uses the pod IP; pods
here have only their loopback so far). The HTTP client is a small HTTP/1.1
one: one request per connection, ``Connection: close``, at most 10 KiB of body
read, redirects followed while they stay on the same host name (at most 10),
a redirect elsewhere ending the probe as a success with a warning, exactly as
the kubelet's client is set up. HTTPS is not verified. ``timeoutSeconds``
bounds the whole exchange, redirects included.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from kubelite.agent.probes.execsync import ExecResult, exec_in_container
from kubelite.containers.engine import ContainerRecord, Engine
from kubelite.errors import Conflict, KubeliteError
from kubelite.runtime.netns import socket_in_netns

SUCCESS, FAILURE, UNKNOWN = "success", "failure", "unknown"
USER_AGENT = "kube-probe/1.32"
MAX_BODY = 10 * 1024
MAX_REDIRECTS = 10

ExecFn = Callable[[list[str], "float | None"], Awaitable[ExecResult]]


@dataclass(frozen=True)
class ProbeResult:
    result: str  # success, failure or unknown
    message: str = ""
    warning: bool = False  # a success the kubelet reports with a ProbeWarning event (a redirect off the host)

    @property
    def ok(self) -> bool:
        return self.result == SUCCESS


@dataclass
class ProbeTarget:
    """What a probe needs to know about its container: where to connect, its ports, how to exec in it."""

    netns: str  # the pod's network namespace (a pinned file or /proc/PID/ns/net)
    container: dict[str, Any] = field(default_factory=dict)  # the container's spec, for named ports
    exec: ExecFn | None = None


def container_target(engine: Engine, record: ContainerRecord, container: dict[str, Any] | None = None,
                     netns: str | None = None) -> ProbeTarget:
    """A target for an Engine container: exec through the engine; the network namespace given, else the
    one the container's process is in now (the pod's, since its containers join it)."""
    if netns is None:
        st = engine.view(record).state
        if st is None:
            raise Conflict(f"container {record.name} is not running")
        netns = f"/proc/{st.pid}/ns/net"

    async def run(argv: list[str], timeout: float | None) -> ExecResult:
        return await exec_in_container(engine, record, argv, timeout)

    return ProbeTarget(netns=netns, container=container or {"name": record.name}, exec=run)


def handler_of(action: dict[str, Any]) -> str | None:
    """Which handler a probe or hook has (exec, httpGet, tcpSocket, grpc, sleep), None when none."""
    if not isinstance(action, dict):
        return None
    for key in ("exec", "httpGet", "tcpSocket", "grpc", "sleep"):
        if isinstance(action.get(key), dict):
            return key
    return None


def probe_timeout(probe: dict[str, Any]) -> float:
    try:
        t = float(probe.get("timeoutSeconds") or 1)
    except (TypeError, ValueError):
        return 1.0
    return t if t > 0 else 1.0


async def run_probe(probe: dict[str, Any], target: ProbeTarget) -> ProbeResult:
    """One check of ``probe`` (a Probe object of the API) against ``target``."""
    timeout = probe_timeout(probe)
    kind = handler_of(probe)
    if kind == "exec":
        return await exec_check(probe["exec"], target, timeout)
    if kind == "httpGet":
        return await http_check(probe["httpGet"], target, timeout)
    if kind == "tcpSocket":
        return await tcp_check(probe["tcpSocket"], target, timeout)
    if kind == "grpc":
        from kubelite.agent.probes.grpc import grpc_check  # it builds on this module's dialing and results

        return await grpc_check(probe["grpc"], target, timeout)
    return ProbeResult(UNKNOWN, "missing probe handler")


def command_of(action: dict[str, Any]) -> list[str]:
    """An exec action's command; empty when it is missing or not a list."""
    cmd = action.get("command")
    return [str(a) for a in cmd] if isinstance(cmd, list) else []


def headers_of(action: dict[str, Any]) -> dict[str, str]:
    """An httpGet action's httpHeaders as a dict (entries without a name are skipped)."""
    items = action.get("httpHeaders")
    return {str(h["name"]): str(h.get("value", "")) for h in items if isinstance(h, dict) and h.get("name")} \
        if isinstance(items, list) else {}


def go_quote(s: str) -> str:
    """Go's %q for the strings we show (JSON's escaping is the same for everything but rare runes)."""
    return json.dumps(s, ensure_ascii=False)


async def exec_check(action: dict[str, Any], target: ProbeTarget, timeout: float | None) -> ProbeResult:
    """Exit code 0 is success; the output (at most 10 KiB) is the message either way."""
    argv = command_of(action)
    if not argv:
        return ProbeResult(UNKNOWN, "exec probe has no command (a list of strings)")
    if target.exec is None:
        return ProbeResult(UNKNOWN, "exec probes are not possible for this container")
    try:
        r = await target.exec(argv, timeout)
    except KubeliteError as e:
        return ProbeResult(UNKNOWN, str(e))
    if r.timed_out:
        return ProbeResult(FAILURE, f"command {go_quote(' '.join(argv))} timed out")
    text = r.output.decode(errors="replace")
    return ProbeResult(SUCCESS if r.exit_code == 0 else FAILURE, text)


def resolve_port(value: Any, container: dict[str, Any]) -> int:
    """A port by number or by the name of one of the container's ports (ValueError, in the kubelet's words)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"invalid port {value!r}")
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        port = int(value)
    else:
        named = [p for p in container.get("ports") or [] if p.get("name") == value]
        if not named:
            raise ValueError(f"couldn't find port: {value} in {container.get('name', 'container')}")
        port = int(named[0].get("containerPort", 0))
    if not 0 < port < 65536:
        raise ValueError(f"invalid port number: {port}")
    return port


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _errno_text(e: OSError) -> str:
    # Go's errno strings are lower case ("connection refused"), Python's capitalised.
    # asyncio's own strerror ("Connect call failed ...") says less than the errno does.
    text = os.strerror(e.errno) if e.errno else (e.strerror or str(e))
    return text[:1].lower() + text[1:]


def _io_text(e: BaseException) -> str:
    if isinstance(e, ssl.SSLError):
        return f"tls: {str(e.reason).lower().replace('_', ' ')}" if e.reason else f"tls: {e}"
    if isinstance(e, EOFError):
        return "unexpected EOF"
    if isinstance(e, ValueError):
        return "malformed HTTP response (a line too long)"
    if isinstance(e, OSError) and e.errno:
        return _errno_text(e)
    return str(e) or type(e).__name__


def dial_error(host: str, port: int, e: BaseException) -> str:
    """Go's net.Dial error text."""
    addr = _hostport(host, port)
    if isinstance(e, TimeoutError):
        return f"dial tcp {addr}: i/o timeout"
    if isinstance(e, socket.gaierror):
        return f"dial tcp: lookup {host}: no such host"
    if isinstance(e, OSError):
        return f"dial tcp {addr}: connect: {_errno_text(e)}"
    return f"dial tcp {addr}: {e}"


class DialError(Exception):
    pass


async def dial(netns: str, host: str, port: int) -> socket.socket:
    """A connected non-blocking socket to host:port inside ``netns`` (DialError with Go's words)."""
    try:
        family = socket.AF_INET6 if isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address) else socket.AF_INET
        addr = host
    except ValueError:  # a name: resolved by the node's resolver (pods have no DNS of their own yet)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise DialError(dial_error(host, port, e)) from None
        family, addr = infos[0][0], str(infos[0][4][0])
    try:
        s = await asyncio.to_thread(socket_in_netns, netns, family)
    except OSError as e:
        raise DialError(f"dial tcp {_hostport(host, port)}: entering the pod's network namespace: "
                        f"{_errno_text(e)}") from None
    s.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(s, (addr, port))
    except OSError as e:
        s.close()
        raise DialError(dial_error(host, port, e)) from None
    except BaseException:
        s.close()
        raise
    return s


async def tcp_check(action: dict[str, Any], target: ProbeTarget, timeout: float) -> ProbeResult:
    """Success when a TCP connection opens within the timeout; it is closed at once."""
    host = str(action.get("host") or "127.0.0.1")
    try:
        port = resolve_port(action.get("port"), target.container)
    except ValueError as e:
        return ProbeResult(UNKNOWN, str(e))
    try:
        async with asyncio.timeout(timeout):
            s = await dial(target.netns, host, port)
    except TimeoutError as e:
        return ProbeResult(FAILURE, dial_error(host, port, e))
    except DialError as e:
        return ProbeResult(FAILURE, str(e))
    s.close()
    return ProbeResult(SUCCESS)


@dataclass
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes


class HTTPGetError(Exception):
    pass


def request_url(action: dict[str, Any], host: str, port: int, scheme: str) -> str:
    path = str(action.get("path") or "")
    if path and not path.startswith("/"):
        path = "/" + path
    return f"{scheme}://{_hostport(host, port)}{path}"


async def http_check(action: dict[str, Any], target: ProbeTarget, timeout: float) -> ProbeResult:
    """GET the URL; a status in [200, 400) is success, a redirect leaving the host a success with a warning."""
    scheme = str(action.get("scheme") or "HTTP").lower()
    if scheme not in ("http", "https"):
        return ProbeResult(UNKNOWN, f"unsupported scheme {action.get('scheme')!r}: use HTTP or HTTPS")
    host = str(action.get("host") or "127.0.0.1")
    try:
        port = resolve_port(action.get("port"), target.container)
    except ValueError as e:
        return ProbeResult(UNKNOWN, str(e))
    headers = headers_of(action)
    lower = {k.lower() for k in headers}
    if "user-agent" not in lower:
        headers["User-Agent"] = USER_AGENT
    if "accept" not in lower:
        headers["Accept"] = "*/*"
    url = request_url(action, host, port, scheme)
    try:
        async with asyncio.timeout(timeout):
            resp = await _get_following(target.netns, url, headers)
    except TimeoutError:
        return ProbeResult(FAILURE, f"Get {go_quote(url)}: context deadline exceeded "
                                    f"(Client.Timeout exceeded while awaiting headers)")
    except (HTTPGetError, DialError) as e:
        return ProbeResult(FAILURE, f"Get {go_quote(url)}: {e}")
    body = resp.body.decode(errors="replace")
    if 200 <= resp.status < 400:
        if resp.status >= 300:
            return ProbeResult(SUCCESS, f"Probe terminated redirects, Response body: {body}", warning=True)
        return ProbeResult(SUCCESS, body)
    return ProbeResult(FAILURE, f"HTTP probe failed with statuscode: {resp.status}")


async def _get_following(netns: str, url: str, headers: dict[str, str]) -> _Response:
    first_host = urlsplit(url).hostname
    for _ in range(MAX_REDIRECTS + 1):
        resp = await http_get(netns, url, headers)
        location = resp.headers.get("location")
        if resp.status not in (301, 302, 303, 307, 308) or not location:
            return resp
        nxt = urljoin(url, location)
        if urlsplit(nxt).hostname != first_host or urlsplit(nxt).scheme not in ("http", "https"):
            return resp  # off the probed host: the kubelet stops here (and warns)
        url = nxt
    raise HTTPGetError(f"stopped after {MAX_REDIRECTS} redirects")


async def http_get(netns: str, url: str, headers: dict[str, str]) -> _Response:
    """One GET over a new connection in ``netns``; no timeout of its own (the caller's bounds it)."""
    u = urlsplit(url)
    host = u.hostname or "127.0.0.1"
    port = u.port or (443 if u.scheme == "https" else 80)
    s = await dial(netns, host, port)
    ctx: ssl.SSLContext | None = None
    if u.scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    try:
        reader, writer = await asyncio.open_connection(sock=s, ssl=ctx, server_hostname=host if ctx else None)
    except (OSError, ValueError, EOFError) as e:  # a TLS handshake with something that does not speak TLS
        s.close()
        raise HTTPGetError(_io_text(e)) from None
    except BaseException:
        s.close()
        raise
    try:
        target = (u.path or "/") + (f"?{u.query}" if u.query else "")
        all_headers = {"Host": u.netloc, **headers, "Connection": "close"}
        if any(k.lower() == "host" for k in headers):  # a Host header given by the user names the virtual host
            all_headers.pop("Host")
        head = f"GET {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in all_headers.items()) + "\r\n"
        writer.write(head.encode("latin-1", errors="replace"))
        await writer.drain()
        return await _read_response(reader)
    except (OSError, ValueError, EOFError) as e:  # resets, TLS errors, a header line past the reader's limit
        raise HTTPGetError(_io_text(e)) from None
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


async def _read_response(reader: asyncio.StreamReader) -> _Response:
    line = await reader.readline()
    if not line:
        raise HTTPGetError("EOF")
    parts = line.decode("latin-1").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise HTTPGetError(f"malformed HTTP response {go_quote(line.decode('latin-1').rstrip())}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    while True:
        h = await reader.readline()
        if not h:
            raise HTTPGetError("unexpected EOF")
        if h in (b"\r\n", b"\n"):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length", "")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""  # the body does not matter to the verdict; not worth a chunked decoder
    elif length.isdigit():
        body = await reader.read(min(int(length), MAX_BODY))
    else:
        body = await reader.read(MAX_BODY)
    return _Response(status, headers, body)
