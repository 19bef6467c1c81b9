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
- The 401 is the domain error ``Unauthorized``, answered as the ``metav1.Status``
  of :func:`kubelite.api.errors.to_status` by this middleware itself, because it
  must work on its own, before any handler and without the error middleware.
"""

from __future__ import annotations

import datetime as dt
import hmac
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubelite.api.errors import to_status
from kubelite.api.security.pki import Pki
from kubelite.api.security.tokens import TokenFile, new_token, token_digest
from kubelite.errors import Unauthorized

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
USER: web.RequestKey[UserInfo] = web.RequestKey("user", UserInfo)


@dataclass(frozen=True)
class _Verified:
    """A client certificate verified on one TLS connection: who it is, by which CA, and until when."""

    der: bytes
    user: UserInfo
    ca: object
    not_before: float
    not_after: float


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


class Authenticator:
    """Turns a request's credentials into a :class:`UserInfo`, or ``None`` if they are missing or wrong."""

    def __init__(self, pki: Pki, tokens: TokenFile) -> None:
        self.pki = pki
        self.tokens = tokens
        # tokens that live as long as this process: the server's loopback identity (never on disk)
        self._memory: list[tuple[bytes, UserInfo]] = []
        # TLS connection (its SSLObject) -> the certificate verified on it; dropped with the connection
        self._verified: weakref.WeakKeyDictionary[object, _Verified] = weakref.WeakKeyDictionary()

    def authenticate(self, headers: Mapping[str, str], peer_cert: bytes | None,
                     connection: object | None = None) -> UserInfo | None:
        """``peer_cert`` is the client certificate in DER, as ``SSLObject.getpeercert(True)`` gives it.

        With ``connection`` (the TLS connection's ``SSLObject``), a certificate already verified on
        that connection is not verified again: the identity is reused while the same certificate,
        the same CA and its validity period still hold.
        """
        token = bearer_token(headers)
        if token is not None:
            return self.authenticate_token(token)
        if not peer_cert:
            return None
        if connection is None:
            return self.authenticate_cert(peer_cert)
        hit = self._verified.get(connection)
        if hit is not None and hit.der == peer_cert and hit.ca is self.pki.ca_cert \
                and hit.not_before <= time.time() <= hit.not_after:
            return hit.user
        user = self.authenticate_cert(peer_cert)
        if user is not None:
            cert = x509.load_der_x509_certificate(peer_cert)
            self._verified[connection] = _Verified(peer_cert, user, self.pki.ca_cert,
                                                   cert.not_valid_before_utc.timestamp(),
                                                   cert.not_valid_after_utc.timestamp())
        return user

    def add_memory_token(self, user: str, groups: tuple[str, ...]) -> str:
        """A new random token for ``user``, known only to this process (Kubernetes' loopback client token)."""
        token = new_token()
        self._memory.append((token_digest(token), UserInfo(user, "", _with_authenticated(groups))))
        return token

    def authenticate_token(self, token: str) -> UserInfo | None:
        if not token:
            return None
        presented = token_digest(token)
        for digest, user in self._memory:
            if hmac.compare_digest(presented, digest):
                return user
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
    return _peer(request)[0]


def _peer(request: web.Request) -> tuple[bytes | None, object | None]:
    """The client certificate in DER (if any) and the TLS connection's ``SSLObject`` (if TLS)."""
    transport = request.transport
    if transport is None:
        return None, None
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None, None
    der = ssl_object.getpeercert(binary_form=True)
    return (der if isinstance(der, bytes) else None), ssl_object


def unauthorized() -> web.Response:
    return to_status(Unauthorized("Unauthorized")).response()


def auth_middleware(
    authenticator: Authenticator,
) -> Middleware:
    """aiohttp middleware: sets ``request[USER]`` to a :class:`UserInfo` or answers 401."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        der, connection = _peer(request)
        user = authenticator.authenticate(request.headers, der, connection)
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
        request[USER] = user
        return await handler(request)

    return authenticate
