"""Kubeconfig files that kubectl and the Kubernetes client libraries use as they are.

Design choices:

- Everything is inline (``certificate-authority-data``, ``client-certificate-data``,
  ``client-key-data``, base64 PEM), so the file can be copied to another machine
  or user alone and still works; nothing points back into ``DATA_DIR/pki``.
- One cluster, one user and one context, all named after the cluster
  (``kubelite``; the user is ``kubelite-admin``), with ``current-context`` set,
  so ``kubectl --kubeconfig FILE`` needs no other flag.
- The file holds a private key or a token: written 0600, atomically.
- Admin credentials default to a fresh client certificate (``CN=kubelite-admin,
  O=system:masters``); a bearer token can be used instead, e.g. for agents.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml

from kubelite.api.security.files import write_private
from kubelite.api.security.pki import Pki
from kubelite.api.security.tokens import ADMIN_USER

CLUSTER_NAME = "kubelite"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def build_kubeconfig(
    server_url: str,
    ca_pem: bytes,
    *,
    user: str = ADMIN_USER,
    client_cert: tuple[bytes, bytes] | None = None,
    token: str | None = None,
    cluster: str = CLUSTER_NAME,
    namespace: str | None = None,
) -> dict[str, Any]:
    """A kubeconfig as a dict: ``client_cert`` is (cert PEM, key PEM); give it, ``token``, or both."""
    if client_cert is None and token is None:
        raise ValueError("a kubeconfig user needs a client certificate or a token")
    credentials: dict[str, str] = {}
    if client_cert is not None:
        credentials["client-certificate-data"] = _b64(client_cert[0])
        credentials["client-key-data"] = _b64(client_cert[1])
    if token is not None:
        credentials["token"] = token
    context: dict[str, str] = {"cluster": cluster, "user": user}
    if namespace:
        context["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {"name": cluster, "cluster": {"server": server_url, "certificate-authority-data": _b64(ca_pem)}}
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": cluster, "context": context}],
        "current-context": cluster,
    }


def write_kubeconfig(path: Path, config: dict[str, Any]) -> Path:
    write_private(Path(path), yaml.safe_dump(config, sort_keys=False, default_flow_style=False).encode())
    return Path(path)


def write_admin_kubeconfig(
    path: Path,
    server_url: str,
    pki: Pki,
    *,
    client_cert: tuple[bytes, bytes] | None = None,
    token: str | None = None,
) -> Path:
    """Write the admin kubeconfig (0600); without credentials given, issue an admin client certificate."""
    if client_cert is None and token is None:
        client_cert = pki.issue_client_cert(ADMIN_USER, ["system:masters"])
    config = build_kubeconfig(server_url, pki.ca_pem, client_cert=client_cert, token=token)
    return write_kubeconfig(path, config)


def server_url(host: str, port: int) -> str:
    """``https://host:port`` with IPv6 literals bracketed and a wildcard bind address made reachable."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"https://{host}:{port}"
