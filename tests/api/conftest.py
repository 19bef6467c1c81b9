"""A real kubelite API server per test module and store driver (a subprocess, HTTPS, the admin kubeconfig).

Tests drive it with the real ``kubectl`` and the official Python client; the
fixture stops it with SIGTERM at the end and checks that it exits cleanly.
``cluster`` is parametrized by datastore, so every test that uses it runs on
SQLite and on a real etcd (``test_x[sqlite]``, ``test_x[etcd]``); pytest groups
a module's tests by parameter, so each module starts one server per driver.
On etcd, every server shares the session's etcd (``etcd_endpoint``) and starts
on an emptied one (``datastore_url`` wipes it), as it would on a new SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubelite.api.client import APIClient
from tests.etcd_server import wipe

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig.yaml"

    @property
    def argv(self) -> list[str]:
        """kubectl for this cluster, with a cache of its own: servers on reused ports must not see another
        server's cached discovery and OpenAPI."""
        return [KUBECTL, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.data_dir / "kubectl-cache")]

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.argv, *args], input=input, text=True, capture_output=True, timeout=timeout)

    def ok(self, *args: str, input: str | None = None) -> str:
        r = self.kubectl(*args, input=input)
        assert r.returncode == 0, f"kubectl {' '.join(args)} failed: {r.stderr}"
        return r.stdout

    def fail(self, *args: str, input: str | None = None) -> str:
        r = self.kubectl(*args, input=input)
        assert r.returncode != 0, f"kubectl {' '.join(args)} unexpectedly worked: {r.stdout}"
        return r.stderr

    def json(self, *args: str) -> dict[str, object]:
        out: dict[str, object] = json.loads(self.ok(*args, "-o", "json"))
        return out


def start_cluster(data_dir: Path, extra: tuple[str, ...] = (), control_plane: bool = False) -> Cluster:
    """A `kubelite server`; without ``control_plane`` only the API server (no controllers, no scheduler), so
    what a test writes stays as written."""
    port = free_port()
    if not control_plane:
        extra = ("--controllers=", "--no-scheduler", *extra)
    log = open(data_dir.parent / f"{data_dir.name}.log", "wb")  # noqa: SIM115 - lives as long as the server
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "kubelite.cli.server", "--data-dir", str(data_dir),
                             "--bind-address", "127.0.0.1", "--port", str(port), *extra],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    c = Cluster(data_dir, port, proc)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {(data_dir.parent / f'{data_dir.name}.log').read_text()}")
        if c.kubeconfig.exists():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return c
            except OSError:
                pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


@contextlib.contextmanager
def cluster_with_loop(data_dir: Path, extra: tuple[str, ...] = (), *, user_agent: str = "kubelite-test"
                      ) -> Iterator[tuple[Cluster, asyncio.AbstractEventLoop, APIClient]]:
    """A bare API server, an event loop running in a thread of this process (where in-process controllers
    or a scheduler run) and an admin client for it; all stopped and closed on exit."""
    cluster = start_cluster(data_dir, extra)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=user_agent, daemon=True)
    thread.start()
    client = APIClient.from_kubeconfig(cluster.kubeconfig, user_agent=user_agent)
    try:
        yield cluster, loop, client
    finally:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(client.close(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        stop_cluster(cluster)


def stop_cluster(c: Cluster) -> None:
    c.proc.send_signal(signal.SIGTERM)
    try:
        code = c.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        c.proc.kill()
        c.proc.wait()
        raise AssertionError("server did not stop on SIGTERM") from None
    assert code == 0, f"server exited with {code}"


DATASTORES = ["sqlite", "etcd"]


def datastore_url(driver: str, data_dir: Path, request: pytest.FixtureRequest, **options: float) -> str:
    """A ``--datastore`` URL for ``driver`` with ``options`` as its query; an etcd is emptied first."""
    query = ("?" + urllib.parse.urlencode(options)) if options else ""
    if driver == "sqlite":
        return f"sqlite://{data_dir.resolve()}/state.db{query}"
    endpoint = str(request.getfixturevalue("etcd_endpoint"))
    wipe(endpoint)
    return f"etcd://{endpoint}{query}"


@pytest.fixture(scope="module", params=DATASTORES)
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    data = tmp_path_factory.mktemp(f"api-{request.param}") / "data"
    c = start_cluster(data, ("--datastore", datastore_url(request.param, data, request)))
    try:
        yield c
    finally:
        stop_cluster(c)
