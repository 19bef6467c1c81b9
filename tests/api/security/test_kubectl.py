"""The real kubectl against the test server, with nothing but the kubeconfig we write."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from kubelite.api.security.kubeconfig import server_url, write_admin_kubeconfig
from tests.api.security.conftest import Server

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


def kubectl(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path / "home")}
    return subprocess.run(
        [KUBECTL, *args], capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL
    )


def test_admin_kubeconfig_works_as_is(server: Server, tmp_path: Path) -> None:
    config = write_admin_kubeconfig(server.data_dir / "kubeconfig.yaml", server.url, server.pki)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    doc = yaml.safe_load(config.read_text())
    assert doc["current-context"] == "kubelite"
    assert doc["clusters"][0]["cluster"]["server"] == server.url

    done = kubectl(tmp_path, "--kubeconfig", str(config), "get", "--raw", "/hello")
    assert done.returncode == 0, done.stderr
    user = json.loads(done.stdout)["ok"]
    assert user["username"] == "kubelite-admin"
    assert "system:masters" in user["groups"]


def test_kubectl_verifies_the_serving_certificate_by_name(server: Server, tmp_path: Path) -> None:
    """``localhost`` is a SAN too; the chain and the name are checked (no insecure flag anywhere)."""
    url = server_url("localhost", server.port)
    config = write_admin_kubeconfig(tmp_path / "kc.yaml", url, server.pki)
    done = kubectl(tmp_path, "--kubeconfig", str(config), "get", "--raw", "/hello")
    assert done.returncode == 0, done.stderr
    bad = write_admin_kubeconfig(tmp_path / "bad.yaml", f"https://127.0.0.2:{server.port}", server.pki)
    done = kubectl(tmp_path, "--kubeconfig", str(bad), "get", "--raw", "/hello")
    assert done.returncode != 0


def test_kubectl_with_token_kubeconfig(server: Server, tmp_path: Path) -> None:
    token = server.tokens.ensure_admin_token()
    config = write_admin_kubeconfig(tmp_path / "kc.yaml", server.url, server.pki, token=token)
    done = kubectl(tmp_path, "--kubeconfig", str(config), "get", "--raw", "/hello")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"]["username"] == "kubelite-admin"


def test_kubectl_bad_token_is_unauthorized(server: Server, tmp_path: Path) -> None:
    config = write_admin_kubeconfig(tmp_path / "kc.yaml", server.url, server.pki)
    done = kubectl(
        tmp_path,
        "--kubeconfig",
        str(config),
        "--token",
        "BAD",
        "--insecure-skip-tls-verify=false",
        "get",
        "--raw",
        "/hello",
    )
    assert done.returncode != 0
    assert "Unauthorized" in done.stderr, done.stderr


def test_kubectl_refuses_a_server_of_another_ca(server: Server, tmp_path: Path) -> None:
    from kubelite.api.security.pki import ensure_pki

    other = ensure_pki(tmp_path / "other", [], [])
    config = write_admin_kubeconfig(tmp_path / "kc.yaml", server.url, other)
    done = kubectl(tmp_path, "--kubeconfig", str(config), "get", "--raw", "/hello")
    assert done.returncode != 0
    assert "certificate" in done.stderr
