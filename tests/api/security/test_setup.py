"""setup_security: one call gives a server kubectl can use with DATA_DIR/kubeconfig.yaml alone."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

from aiohttp import web

from kubelite.api.security.setup import setup_security
from tests.api.security.conftest import ThreadedApp, hello
from tests.api.security.test_kubectl import KUBECTL, kubectl


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_setup_security_end_to_end(tmp_path: Path) -> None:
    port = free_port()
    sec = setup_security(tmp_path, bind_address="127.0.0.1", port=port, hostnames=["api.example"])
    assert sec.kubeconfig == tmp_path / "kubeconfig.yaml"
    assert stat.S_IMODE(sec.kubeconfig.stat().st_mode) == 0o600
    assert sec.encryptor is not None and (tmp_path / "pki" / "encryption.key").exists()
    app = web.Application(middlewares=sec.middlewares())
    app.router.add_route("*", "/{tail:.*}", hello)
    server = ThreadedApp(app, sec.ssl_context, port)
    server.start()
    try:
        if KUBECTL is None:
            return
        done = kubectl(tmp_path, "--kubeconfig", str(sec.kubeconfig), "get", "--raw", "/api/v1/namespaces")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["ok"]["username"] == "kubelite-admin"
        done = kubectl(
            tmp_path, "--kubeconfig", str(sec.kubeconfig), "--token", "BAD", "get", "--raw", "/version"
        )
        assert done.returncode != 0 and "Unauthorized" in done.stderr
    finally:
        server.stop()
    again = setup_security(tmp_path, bind_address="127.0.0.1", port=port, hostnames=["api.example"])
    assert again.pki.ca_cert == sec.pki.ca_cert
    assert not setup_security(tmp_path / "plain", encrypt_secrets=False).encryptor
