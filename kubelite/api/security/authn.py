"""Authentication: who is calling, from a bearer token or a verified client certificate.

Design choices:

- Bearer token first: a request that carries ``Authorization: Bearer`` is judged
  by that token alone, and a wrong token is a 401 even if a valid client
  certificate came with it. Presenting a credential that does not work is a
  mistake to surface, not one to paper over with another identity.
- Otherwise the TLS client certificate: the handshake has already checked the
  chain (``CERT_OPTIONAL``), and we check again here (signature by the cluster
  CA, validity period, client-auth usage) so the authenticator stays correct
  even behind a context that does not verify. CN is the user, each O a group.
- Every authenticated user also gets the group ``system:authenticated``, as in
  Kubernetes, so authorizers can grant things to "anyone logged in".
- No credentials at all: 401, except GET/HEAD on ``/healthz``, ``/livez``,
  ``/readyz`` and ``/version``, which Kubernetes' ``system:public-info-viewer``
  role opens to anonymous users; there the user is ``system:anonymous``.
- The 401 body is a ``metav1.Status``, built here because this middleware runs
  before any handler and must answer on its own.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubelite.api.security.pki import Pki
from kubelite.api.security.tokens import TokenFile

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/version/"})


@dataclass(frozen=True)
class UserInfo:
    """The authenticated identity of a request, as Kubernetes' ``user.Info``."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_anonymous(self) -> bool:
        return self.name == ANONYMOUS

    def to_json(self) -> dict[str, Any]:
        """The ``userInfo`` of a SelfSubjectReview (``kubectl auth whoami``)."""
        out: dict[str, Any] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        return out


ANONYMOUS_USER = UserInfo(ANONYMOUS, "", (UNAUTHENTICATED,))


def _with_authenticated(groups: tuple[str, ...]) -> tuple[str, ...]:
    return groups if AUTHENTICATED in groups else (*groups, AUTHENTICATED)


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer`` header; ``""`` for another scheme or an empty token."""
    value = headers.get("Authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return token.strip()


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A failure ``metav1.Status`` as Kubernetes writes it."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details:
        body["details"] = details
    body["code"] = code
    return body


def status_response(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> web.Response:
    return web.Response(
        status=code,
        body=json.dumps(status_body(code, reason, message, details)).encode(),
        content_type="application/json",
    )


class Authenticator:
    """Turns a request's credentials into a :class:`UserInfo`, or ``None`` if they are missing or wrong."""

    def __init__(self, pki: Pki, tokens: TokenFile) -> None:
        self.pki = pki
        self.tokens = tokens

    def authenticate(self, headers: Mapping[str, str], peer_cert: bytes | None) -> UserInfo | None:
        """``peer_cert`` is the client certificate in DER, as ``SSLObject.getpeercert(True)`` gives it."""
        token = bearer_token(headers)
        if token is not None:
            return self.authenticate_token(token)
        if peer_cert:
            return self.authenticate_cert(peer_cert)
        return None

    def authenticate_token(self, token: str) -> UserInfo | None:
        if not token:
            return None
        entry = self.tokens.lookup(token)
        if entry is None:
            return None
        return UserInfo(entry.user, entry.uid, _with_authenticated(entry.groups))

    def authenticate_cert(self, der: bytes) -> UserInfo | None:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            return None
        now = dt.datetime.now(dt.UTC)
        in_time = cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
        if not in_time or not self.pki.issued_by_ca(cert):
            return None
        try:
            usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            usages = None
        if usages is not None and ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
            return None
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        user = str(names[0].value) if names else ""
        if not user:
            return None
        groups = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
        return UserInfo(user, "", _with_authenticated(groups))


def peer_certificate(request: web.Request) -> bytes | None:
    """The verified client certificate of the request's TLS connection, in DER, if any."""
    transport = request.transport
    if transport is None:
        return None
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return der if isinstance(der, bytes) else None


def unauthorized() -> web.Response:
    return status_response(401, "Unauthorized", "Unauthorized")


def auth_middleware(
    authenticator: Authenticator,
) -> Middleware:
    """aiohttp middleware: sets ``request["user"]`` to a :class:`UserInfo` or answers 401."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        der = peer_certificate(request)
        user = authenticator.authenticate(request.headers, der)
        if user is None:
            anonymous_ok = (  # only with no credentials at all: wrong ones are always a 401
                request.method in ("GET", "HEAD")
                and request.path in PUBLIC_PATHS
                and "Authorization" not in request.headers
                and der is None
            )
            if not anonymous_ok:
                return unauthorized()
            user = ANONYMOUS_USER
        request["user"] = user
        return await handler(request)

    return authenticate
