"""Real TLS against a real aiohttp server: certificates, tokens, anonymous access, 401 and 403 bodies."""

from __future__ import annotations

import http.client
import json
import ssl
from pathlib import Path
from typing import Any

import pytest

from kubelite.api.security.pki import ensure_pki, ssl_client_context
from tests.api.security.conftest import Server

UNAUTHORIZED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}


def request(
    server: Server,
    path: str,
    *,
    cert: tuple[Path, Path] | None = None,
    token: str | None = None,
    method: str = "GET",
    ctx: ssl.SSLContext | None = None,
) -> tuple[int, Any]:
    if ctx is None:
        ctx = ssl_client_context(server.pki, *(cert or (None, None)))
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status == 401:
            assert resp.getheader("Content-Type", "").startswith("application/json")
        return resp.status, json.loads(body) if body else None
    finally:
        conn.close()


def cert_files(tmp_path: Path, pem: tuple[bytes, bytes], name: str = "client") -> tuple[Path, Path]:
    crt, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    crt.write_bytes(pem[0])
    key.write_bytes(pem[1])
    return crt, key


def test_client_certificate_gives_user_and_groups(server: Server, tmp_path: Path) -> None:
    files = cert_files(tmp_path, server.pki.issue_client_cert("kubelite-admin", ["system:masters"]))
    status, body = request(server, "/hello", cert=files)
    assert status == 200
    assert body["ok"] == {"username": "kubelite-admin", "groups": ["system:masters", "system:authenticated"]}


def test_certificate_with_several_organizations(server: Server, tmp_path: Path) -> None:
    files = cert_files(tmp_path, server.pki.issue_client_cert("jane", ["dev", "ops"]))
    status, body = request(server, "/hello", cert=files)
    assert status == 200
    assert body["ok"]["username"] == "jane"
    assert body["ok"]["groups"] == ["dev", "ops", "system:authenticated"]


def test_bearer_token(server: Server) -> None:
    token = server.tokens.ensure_admin_token()
    status, body = request(server, "/hello", token=token)
    assert status == 200
    assert body["ok"] == {
        "username": "kubelite-admin",
        "uid": "kubelite-admin",
        "groups": ["system:masters", "system:authenticated"],
    }


def test_node_token(server: Server) -> None:
    token = server.tokens.ensure_node_token("node-1")
    status, body = request(server, "/hello", token=token)
    assert status == 200
    assert body["ok"]["username"] == "system:node:node-1"
    assert "system:nodes" in body["ok"]["groups"]


def test_no_credentials_is_401_status(server: Server) -> None:
    assert request(server, "/hello") == (401, UNAUTHORIZED)
    assert request(server, "/api/v1/namespaces/default/pods", method="POST") == (401, UNAUTHORIZED)


@pytest.mark.parametrize("header_token", ["wrong", "", "x" * 4096])
def test_wrong_token_is_401(server: Server, header_token: str) -> None:
    server.tokens.ensure_admin_token()
    assert request(server, "/hello", token=header_token) == (401, UNAUTHORIZED)


def test_wrong_token_beats_a_valid_certificate(server: Server, tmp_path: Path) -> None:
    files = cert_files(tmp_path, server.pki.issue_client_cert("kubelite-admin", ["system:masters"]))
    assert request(server, "/hello", cert=files, token="wrong") == (401, UNAUTHORIZED)


def test_other_scheme_is_401(server: Server) -> None:
    ctx = ssl_client_context(server.pki)
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=10)
    conn.request("GET", "/hello", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    resp = conn.getresponse()
    assert resp.status == 401 and json.loads(resp.read()) == UNAUTHORIZED
    conn.close()


def test_certificate_from_another_ca_is_refused(server: Server, tmp_path: Path) -> None:
    other = ensure_pki(tmp_path / "other", [], [])
    files = cert_files(tmp_path, other.issue_client_cert("kubelite-admin", ["system:masters"]), "evil")
    try:
        status, body = request(server, "/hello", cert=files)
    except (ssl.SSLError, ConnectionError):
        return  # the handshake refused it: fine
    assert (status, body) == (401, UNAUTHORIZED)


def test_authenticator_rechecks_certificates(server: Server, tmp_path: Path) -> None:
    """Even if a TLS context let a foreign certificate through, the authenticator refuses it."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from kubelite.api.security.authn import Authenticator

    auth = Authenticator(server.pki, server.tokens)
    other = ensure_pki(tmp_path / "other", [], [])
    der = x509.load_pem_x509_certificate(other.issue_client_cert("x", ["system:masters"])[0]).public_bytes(
        Encoding.DER
    )
    assert auth.authenticate({}, der) is None
    serving = x509.load_pem_x509_certificate(server.pki.serving_cert_path.read_bytes())
    assert auth.authenticate({}, serving.public_bytes(Encoding.DER)) is None  # server-auth usage only
    assert auth.authenticate({}, b"not a certificate") is None


def test_server_certificate_is_verified_by_clients(server: Server, tmp_path: Path) -> None:
    other = ensure_pki(tmp_path / "other", [], [])
    with pytest.raises(ssl.SSLCertVerificationError):
        request(server, "/version", ctx=ssl_client_context(other))


@pytest.mark.parametrize("path", ["/version", "/healthz", "/livez", "/readyz"])
def test_public_paths_are_open_to_anonymous(server: Server, path: str) -> None:
    status, body = request(server, path)
    assert status == 200
    assert body["ok"] == {"username": "system:anonymous", "groups": ["system:unauthenticated"]}


def test_public_paths_refuse_wrong_credentials_and_writes(server: Server) -> None:
    assert request(server, "/version", token="wrong") == (401, UNAUTHORIZED)
    assert request(server, "/version", method="POST") == (401, UNAUTHORIZED)
    assert request(server, "/healthz/etcd") == (401, UNAUTHORIZED)


def test_forbidden_has_kubernetes_wording(authz_server: Server, tmp_path: Path) -> None:
    files = cert_files(tmp_path, authz_server.pki.issue_client_cert("jane", ["dev"]))
    status, body = request(authz_server, "/api/v1/namespaces/default/pods", cert=files)
    assert status == 403
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods is forbidden: User "jane" cannot list resource "pods" in API group "" '
        'in the namespace "default"',
        "reason": "Forbidden",
        "details": {"kind": "pods"},  # omitempty: kube leaves out the empty group
        "code": 403,
    }
    assert request(authz_server, "/apis", cert=files)[0] == 200  # discovery is open to everyone known
    admin = cert_files(tmp_path, authz_server.pki.issue_client_cert("root", ["system:masters"]), "admin")
    assert request(authz_server, "/api/v1/namespaces/default/pods", cert=admin)[0] == 200
    assert request(authz_server, "/version")[0] == 200
