"""Probe and hook actions: exec in a container, HTTP GET and TCP connect inside the pod's network namespace.

One call, one verdict, with the kubelet's words (``kubectl describe`` shows
them in events): an exec probe succeeds on exit code 0, an HTTP probe on a
status in [200, 400), a TCP probe when the connection opens. HTTP and TCP
connect to ``host`` (default: the pod itself, i.e. ``127.0.0.1`` inside the
pod's own network namespace, since pods have no routable address yet) through
a socket made in that namespace (:mod:`kubelite.runtime.netns`), so a probe
reaches a server that listens only on the pod's loopback. The kubelet reads at
most 10 KiB of exec output and of HTTP bodies; so do we.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass
from typing import Any

from kubelite.agent.podruntime import ContainerInfo
from kubelite.agent.streaming.remotecommand import read_fd, wait_exit
from kubelite.containers.engine import Engine
from kubelite.errors import KubeliteError
from kubelite.runtime import exec as rexec
from kubelite.runtime.container import compiled_seccomp
from kubelite.runtime.netns import socket_in_netns

MAX_OUTPUT = 10 * 1024
USER_AGENT = "kube-probe/1.32"


@dataclass
class Result:
    ok: bool
    message: str = ""


@dataclass
class ExecResult:
    exit_code: int
    output: bytes
    timed_out: bool = False


async def exec_in_container(engine: Engine, info: ContainerInfo, argv: list[str], timeout: float) -> ExecResult:
    """Run ``argv`` in the running container, stdout and stderr together (at most 10 KiB kept); killed at
    ``timeout``."""
    st = engine.view(info.record).state
    if st is None:
        raise KubeliteError(f"container {info.name} is not running")
    process = rexec.merge_process(st.process, argv, terminal=False)
    r, w = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        pid, _ = await asyncio.to_thread(rexec.spawn, st, process, engine.runtime.cgroup(st), (null, w, w),
                                         compiled_seccomp(st.seccomp))
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
        os.close(null)
    out = bytearray()

    async def collect() -> None:
        while data := await read_fd(r):
            if len(out) < MAX_OUTPUT:
                out.extend(data[:MAX_OUTPUT - len(out)])

    reader = asyncio.create_task(collect())
    try:
        code = await asyncio.wait_for(wait_exit(pid), timeout)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), 1)
        return ExecResult(code, bytes(out))
    except TimeoutError:
        _kill_tree(pid)
        await wait_exit(pid)
        return ExecResult(137, bytes(out), timed_out=True)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        os.close(r)


def _kill_tree(pid: int) -> None:
    """SIGKILL the exec'd process (the child of the waiting middle process ``pid``), then the middle one."""
    try:
        children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        children = []
    for child in [*children, str(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(child), 9)


def _port(value: Any, container: dict[str, Any]) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    for p in container.get("ports") or []:
        if p.get("name") == value:
            return int(p["containerPort"])
    raise ValueError(f"unable to find port {value!r} in container")


async def _connect(netns: str, host: str, port: int, timeout: float) -> tuple[asyncio.StreamReader,
                                                                              asyncio.StreamWriter]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = await asyncio.to_thread(socket_in_netns, netns, family)
    s.setblocking(False)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(s, (host, port)), timeout)
    except BaseException:
        s.close()
        raise
    return await asyncio.open_connection(sock=s)


def _dial_error(host: str, port: int, e: BaseException) -> str:
    if isinstance(e, TimeoutError):
        return f"dial tcp {host}:{port}: i/o timeout"
    if isinstance(e, ConnectionRefusedError):
        return f"dial tcp {host}:{port}: connect: connection refused"
    return f"dial tcp {host}:{port}: {getattr(e, 'strerror', None) or e}"


async def tcp_check(netns: str, action: dict[str, Any], container: dict[str, Any], timeout: float) -> Result:
    host = action.get("host") or "127.0.0.1"
    try:
        port = _port(action.get("port"), container)
        _, writer = await _connect(netns, host, port, timeout)
    except ValueError as e:
        return Result(False, str(e))
    except (OSError, TimeoutError) as e:
        return Result(False, _dial_error(host, locals().get("port", 0), e))
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return Result(True)


async def http_get(netns: str, action: dict[str, Any], container: dict[str, Any], timeout: float) -> Result:
    host = action.get("host") or "127.0.0.1"
    scheme = str(action.get("scheme") or "HTTP").upper()
    path = action.get("path") or "/"
    path = path if path.startswith("/") else "/" + path
    try:
        port = _port(action.get("port"), container)
    except ValueError as e:
        return Result(False, str(e))
    headers = {"Host": f"{host}:{port}", "User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close"}
    for h in action.get("httpHeaders") or []:
        headers[h["name"]] = h.get("value", "")
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await _connect(netns, host, port, timeout)
            if scheme == "HTTPS":
                import ssl

                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                await writer.start_tls(ctx)
            request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            writer.write(request.encode())
            await writer.drain()
            status_line = await reader.readline()
            await reader.read(MAX_OUTPUT)
            writer.close()
    except (OSError, TimeoutError) as e:
        if isinstance(e, TimeoutError):
            return Result(False, f'Get "{scheme.lower()}://{host}:{port}{path}": context deadline exceeded '
                                 f"(Client.Timeout exceeded while awaiting headers)")
        return Result(False, f'Get "{scheme.lower()}://{host}:{port}{path}": {_dial_error(host, port, e)}')
    parts = status_line.decode("latin-1").split()
    if len(parts) < 2 or not parts[1].isdigit():
        return Result(False, f"HTTP probe failed: malformed response {status_line[:80]!r}")
    code = int(parts[1])
    if 200 <= code < 400:
        return Result(True)
    return Result(False, f"HTTP probe failed with statuscode: {code}")


async def run_action(kind: str, action: dict[str, Any], engine: Engine, info: ContainerInfo, netns: str,
                     container: dict[str, Any], timeout: float) -> Result:
    """One probe or hook action (``exec``, ``httpGet``, ``tcpSocket``, ``sleep``) against a container."""
    if "exec" in action:
        argv = list((action["exec"] or {}).get("command") or [])
        if not argv:
            return Result(False, "exec action has no command")
        try:
            r = await exec_in_container(engine, info, argv, timeout)
        except KubeliteError as e:
            return Result(False, str(e))
        if r.timed_out:
            return Result(False, f"command {argv!r} timed out")
        if r.exit_code != 0:
            text = r.output.decode(errors="replace")
            return Result(False, text if kind != "hook" else
                          f"command {argv!r} exited with {r.exit_code}: {text}")
        return Result(True, r.output.decode(errors="replace"))
    if "httpGet" in action:
        return await http_get(netns, action["httpGet"] or {}, container, timeout)
    if "tcpSocket" in action:
        return await tcp_check(netns, action["tcpSocket"] or {}, container, timeout)
    if "sleep" in action:
        await asyncio.sleep(float((action["sleep"] or {}).get("seconds", 0)))
        return Result(True)
    if "grpc" in action:
        return Result(False, "grpc probes are not supported by this node")
    return Result(False, "missing probe handler")
