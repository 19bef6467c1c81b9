"""A pod without an agent, for the probe and hook tests: a pinned network namespace and busybox containers in it.

The namespace comes from the agent's own sandbox code (a bind-mounted
namespace file with its loopback up, as ``ip netns add`` makes one); the
containers are the Engine's, under the test's private roots, joined to that
namespace and sharing a host directory at /share that the test reads and
writes to drive and observe them. Everything is removed at the end, before
the root fixture's leak check looks.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kubelite.agent.probes.prober import ProbeTarget, container_target
from kubelite.agent.sandbox import SandboxManager
from kubelite.containers.engine import ContainerRecord, Engine
from kubelite.containers.specgen import RunOptions
from kubelite.runtime.netns import socket_in_netns
from tests.conftest import Env

T = TypeVar("T")


@dataclass
class PodRig:
    engine: Engine
    netns: str
    share: Path
    records: list[ContainerRecord] = field(default_factory=list)
    wait_for: Path | None = None  # a file each container's script makes once it is ready; run() waits for it

    def run(self, name: str, script: str) -> ContainerRecord:
        if self.wait_for is not None:
            self.wait_for.unlink(missing_ok=True)
        rec, _ = self.engine.run(RunOptions(image="busybox", command=["sh", "-c", script], name=name, detach=True,
                                            volumes=[f"{self.share}:/share"], namespaces={"network": self.netns}))
        self.records.append(rec)
        if self.wait_for is not None:
            for _ in range(600):
                if self.wait_for.exists():
                    break
                time.sleep(0.05)
            else:
                raise AssertionError(f"container {name} never made {self.wait_for}")
        return rec

    def target(self, rec: ContainerRecord, container: dict[str, Any] | None = None) -> ProbeTarget:
        return container_target(self.engine, rec, container or {"name": rec.name}, netns=self.netns)

    def status(self, rec: ContainerRecord) -> str:
        return self.engine.view(rec).status


def pod_rig(kenv: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PodRig]:
    monkeypatch.setenv("KUBELITE_ROOT", str(kenv.root))
    monkeypatch.setenv("KUBELITE_STATE", str(kenv.state))
    engine = Engine(kenv.root, kenv.state / "containers")
    sandboxes = SandboxManager(tmp_path / "sandboxes")
    sb = sandboxes.ensure("probe-pod", "probe-pod", "127.0.0.1 localhost\n")
    share = tmp_path / "share"
    share.mkdir()
    rig = PodRig(engine, sb.netns, share)
    try:
        yield rig
    finally:
        for rec in rig.records:
            with contextlib.suppress(Exception):
                engine.remove(rec.id, force=True)
        sandboxes.remove("probe-pod")


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro
    return asyncio.run(main())


async def eventually(what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    """Wait for a condition the system under test brings about (a bound on a hang, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def wait_tcp(target: ProbeTarget, port: int) -> None:
    """Until something listens on ``port`` in the target's namespace (a server in a container starting up)."""
    from kubelite.agent.probes.prober import SUCCESS, run_probe

    for _ in range(600):
        if (await run_probe({"tcpSocket": {"port": port}}, target)).result == SUCCESS:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


def tls_context(d: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate (made by openssl in ``d``)."""
    key, cert = d / "tls.key", d / "tls.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=pod",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def silent_listener(netns: str, port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:port in ``netns`` that never accepts: connections open (the kernel
    completes them) and requests are never answered."""
    s = socket_in_netns(netns)
    s.bind(("127.0.0.1", port))
    s.listen(8)
    return s


Handler = Callable[[str, dict[str, str]], tuple[int, dict[str, str], bytes]]


@contextlib.asynccontextmanager
async def http_server(netns: str, port: int, handler: Handler, seen: list[tuple[str, dict[str, str]]],
                      tls: ssl.SSLContext | None = None) -> Any:
    """A small HTTP server listening on 127.0.0.1:port inside ``netns``, answering with ``handler(path, headers)``
    and recording each request; for what busybox httpd cannot do (redirects, header checks)."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await reader.readline()).decode()
            headers: dict[str, str] = {}
            while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                k, _, v = h.decode().partition(":")
                headers[k.strip()] = v.strip()
            path = line.split()[1]
            seen.append((path, headers))
            status, extra, body = handler(path, headers)
            head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n" + "".join(
                f"{k}: {v}\r\n" for k, v in extra.items()) + "\r\n"
            writer.write(head.encode() + body)
            await writer.drain()
        finally:
            writer.close()

    s = socket_in_netns(netns)
    s.setsockopt(1, 2, 1)  # SO_REUSEADDR
    s.bind(("127.0.0.1", port))
    s.listen()
    s.setblocking(False)
    server = await asyncio.start_server(serve, sock=s, ssl=tls)
    try:
        yield server
    finally:
        server.close()
        await server.wait_closed()
