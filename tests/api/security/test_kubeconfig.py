"""The kubeconfig's shape, independent of kubectl (test_kubectl runs the real one)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from kubelite.api.security.kubeconfig import build_kubeconfig, server_url, write_admin_kubeconfig
from kubelite.api.security.pki import ensure_pki


def test_admin_kubeconfig_shape(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, [], [])
    path = write_admin_kubeconfig(tmp_path / "kubeconfig.yaml", "https://127.0.0.1:6443", pki)
    doc = yaml.safe_load(path.read_text())
    assert doc["kind"] == "Config" and doc["current-context"] == "kubelite"
    assert doc["contexts"] == [
        {"name": "kubelite", "context": {"cluster": "kubelite", "user": "kubelite-admin"}}
    ]
    cluster = doc["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == pki.ca_pem
    user = doc["users"][0]["user"]
    assert b"BEGIN CERTIFICATE" in base64.b64decode(user["client-certificate-data"])
    assert b"PRIVATE KEY" in base64.b64decode(user["client-key-data"])


def test_token_kubeconfig_and_errors(tmp_path: Path) -> None:
    doc = build_kubeconfig("https://h:1", b"CA", token="t", namespace="ns")
    assert doc["users"][0]["user"] == {"token": "t"}
    assert doc["contexts"][0]["context"]["namespace"] == "ns"
    with pytest.raises(ValueError):
        build_kubeconfig("https://h:1", b"CA")


def test_server_url() -> None:
    assert server_url("0.0.0.0", 6443) == "https://127.0.0.1:6443"
    assert server_url("::", 6443) == "https://[::1]:6443"
    assert server_url("fd00::1", 6443) == "https://[fd00::1]:6443"
    assert server_url("example.com", 443) == "https://example.com:443"
