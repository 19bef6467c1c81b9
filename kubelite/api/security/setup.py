"""One call that readies everything security-related for ``kubelite server``.

The server needs the same few steps on every start, in a fixed order: PKI
(CA, serving certificate for every name it may be reached by), the token file,
the authenticator and authorizer, the TLS context, the admin kubeconfig and,
if enabled, the Secret encryptor. Gathering them here keeps ``server.py`` free
of security details and makes the start-up order testable on its own.

The admin kubeconfig is rewritten on every start with a fresh client
certificate (older copies stay valid until they expire: same CA), and points at
the bind address, or at 127.0.0.1 when the server listens on every address.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp.typedefs import Middleware

from kubelite.api.security.authn import Authenticator, auth_middleware
from kubelite.api.security.authz import Authorizer, authz_middleware
from kubelite.api.security.encryption import Encryptor
from kubelite.api.security.kubeconfig import server_url, write_admin_kubeconfig
from kubelite.api.security.pki import Pki, ensure_pki, ssl_server_context
from kubelite.api.security.tokens import TokenFile


@dataclass
class Security:
    """What the server holds on to: credentials checkers, TLS context, encryptor, kubeconfig path."""

    pki: Pki
    tokens: TokenFile
    authenticator: Authenticator
    authorizer: Authorizer
    ssl_context: ssl.SSLContext
    kubeconfig: Path
    encryptor: Encryptor | None

    def middlewares(self, authorize: bool = True) -> list[Middleware]:
        """Authentication, then (unless ``authorize`` is false) authorization, in that order."""
        out = [auth_middleware(self.authenticator)]
        if authorize:
            out.append(authz_middleware(self.authorizer))
        return out


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


def setup_security(
    data_dir: Path,
    *,
    bind_address: str = "0.0.0.0",
    port: int = 6443,
    hostnames: Sequence[str] = (),
    ips: Sequence[str] = (),
    encrypt_secrets: bool = True,
) -> Security:
    """PKI, tokens, TLS context and ``DATA_DIR/kubeconfig.yaml`` for a server on ``bind_address:port``."""
    data_dir = Path(data_dir)
    extra_ips = [*ips, bind_address] if _is_ip(bind_address) else list(ips)
    extra_names = list(hostnames) if _is_ip(bind_address) else [*hostnames, bind_address]
    pki = ensure_pki(data_dir, extra_names, extra_ips)
    tokens = TokenFile.in_data_dir(data_dir)
    kubeconfig = write_admin_kubeconfig(data_dir / "kubeconfig.yaml", server_url(bind_address, port), pki)
    return Security(
        pki=pki,
        tokens=tokens,
        authenticator=Authenticator(pki, tokens),
        authorizer=Authorizer(),
        ssl_context=ssl_server_context(pki),
        kubeconfig=kubeconfig,
        encryptor=Encryptor.load(data_dir) if encrypt_secrets else None,
    )
