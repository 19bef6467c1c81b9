"""A throw-away etcd for tests and benchmarks: random free ports on 127.0.0.1, a temporary data dir.

Used as a context manager; the process is killed (and waited for) on exit, so no etcd outlives its user.
One etcd serves a whole test session (the ``etcd_endpoint`` fixture in ``tests/conftest.py``): the store
tests keep apart by key prefix, the API tests by ``wipe(endpoint)`` before each server, which gives that server an
empty store as a fresh SQLite file would (revisions go on from where they were, as they may).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EtcdServer:
    def __init__(self, data_dir: Path | None = None) -> None:
        self.binary = shutil.which("etcd")
        self._tmp = None if data_dir else tempfile.TemporaryDirectory(prefix="kubelite-etcd-")
        self.dir = data_dir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.client_port = free_port()
        self.peer_port = free_port()
        self.endpoint = f"127.0.0.1:{self.client_port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20) -> EtcdServer:
        if self.binary is None:
            raise RuntimeError("etcd is not installed (Debian: apt-get install etcd-server)")
        client, peer = f"http://{self.endpoint}", f"http://127.0.0.1:{self.peer_port}"
        log = open(self.dir / "etcd.log", "ab")
        self.proc = subprocess.Popen(
            [self.binary, "--name", "kubelite-test", "--data-dir", str(self.dir / "data"),
             "--listen-client-urls", client, "--advertise-client-urls", client,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"kubelite-test={peer}", "--logger", "zap", "--log-level", "error"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited: {(self.dir / 'etcd.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{client}/health", timeout=1) as r:
                    if b'"true"' in r.read():
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("etcd did not become healthy in time")

    def kill(self) -> None:
        """kill -9 the server and wait for it; its data dir and ports stay, so ``start()`` brings it back."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        self.kill()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> EtcdServer:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def wipe(endpoint: str) -> None:
    """Delete every key of the etcd at ``endpoint`` (host:port), through its JSON gateway."""
    body = json.dumps({"key": "AA==", "range_end": "AA=="}).encode()  # "\0" .. "\0": every key
    req = urllib.request.Request(f"http://{endpoint}/v3/kv/deleterange", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()
