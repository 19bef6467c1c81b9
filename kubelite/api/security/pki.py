"""The cluster's PKI: one CA, one serving certificate, client certificates on demand.

Design choices:

- One self-signed cluster CA (EC P-256, 10 years, ``CN=kubelite-ca``) signs both
  the serving certificate and client certificates, as a single-node kubeadm or
  k3s cluster does; clients need only ``ca.crt`` to trust the server, and the
  server needs only ``ca.crt`` to verify clients.
- P-256 rather than RSA: keys are generated in a millisecond, and Go (kubectl),
  OpenSSL and Python all speak it.
- :func:`ensure_pki` is idempotent and self-healing: it reuses what is on disk
  and regenerates only what is missing or no longer fit: the CA if it is absent
  or unreadable, the serving certificate if the CA changed, a needed SAN is
  missing, its key does not match, or it expires within 30 days. Restarting the
  server therefore never invalidates kubeconfigs already handed out.
- Client identity follows Kubernetes: the subject's CN is the user name and
  each O is a group (admin: ``CN=kubelite-admin, O=system:masters``).

Files (keys 0600, directory 0700): ``DATA_DIR/pki/{ca,server}.{crt,key}``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubelite.api.security.files import private_dir, write_private

CA_CN = "kubelite-ca"
CA_DAYS = 3650
SERVING_DAYS = 365
CLIENT_DAYS = 365
RENEW_BEFORE = dt.timedelta(days=30)
BASE_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
# 10.96.0.1: the ``kubernetes`` Service's ClusterIP (first address of allocators.SERVICE_CIDR), how pods reach us.
BASE_IPS = ("127.0.0.1", "::1", "10.96.0.1")

IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _same_public_key(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


@dataclass(frozen=True)
class Pki:
    """The cluster CA (certificate and key) and where the serving certificate lives."""

    directory: Path
    ca_cert: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey

    @property
    def ca_cert_path(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key_path(self) -> Path:
        return self.directory / "ca.key"

    @property
    def serving_cert_path(self) -> Path:
        return self.directory / "server.crt"

    @property
    def serving_key_path(self) -> Path:
        return self.directory / "server.key"

    @property
    def ca_pem(self) -> bytes:
        return _cert_pem(self.ca_cert)

    def ca_fingerprint(self) -> str:
        """``sha256:<hex>`` of the CA's public key, as kubeadm's ``--discovery-token-ca-cert-hash``."""
        spki = self.ca_cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return "sha256:" + hashlib.sha256(spki).hexdigest()

    def issued_by_ca(self, cert: x509.Certificate) -> bool:
        """Whether ``cert`` carries a valid signature of this CA (no time or usage check)."""
        try:
            cert.verify_directly_issued_by(self.ca_cert)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True

    def issue_client_cert(
        self, cn: str, organizations: list[str] | tuple[str, ...] = (), days: int = CLIENT_DAYS
    ) -> tuple[bytes, bytes]:
        """A client certificate for user ``cn`` in groups ``organizations``: (cert PEM, key PEM)."""
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
        key = _new_key()
        cert = self._sign(x509.Name(attrs), key, days, ExtendedKeyUsageOID.CLIENT_AUTH, None)
        return _cert_pem(cert), _key_pem(key)

    def _sign(
        self,
        subject: x509.Name,
        key: ec.EllipticCurvePrivateKey,
        days: int,
        usage: x509.ObjectIdentifier,
        san: x509.SubjectAlternativeName | None,
    ) -> x509.Certificate:
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate small clock skew
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()), critical=False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        return builder.sign(self.ca_key, hashes.SHA256())


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _new_ca(directory: Path) -> Pki:
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_CN)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pki = Pki(directory, cert, key)
    write_private(pki.ca_key_path, _key_pem(key))
    write_private(pki.ca_cert_path, _cert_pem(cert), 0o644)
    return pki


def _load_ca(directory: Path) -> Pki | None:
    try:
        cert = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
        key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not _same_public_key(cert, key):
        return None
    if cert.not_valid_after_utc - RENEW_BEFORE < _now():
        return None  # TODO: CA rotation that keeps old clients working (a bundle of old and new)
    return Pki(directory, cert, key)


def _wanted_san(hostnames: list[str], ips: list[str]) -> tuple[set[str], set[IPAddr]]:
    names = set(BASE_DNS_NAMES)
    host = socket.gethostname()
    if host:
        names.add(host.lower())
    addrs: set[IPAddr] = {ipaddress.ip_address(a) for a in BASE_IPS}
    for value in [*hostnames, *ips]:
        value = value.strip().strip("[]")
        if not value:
            continue
        try:
            addr = ipaddress.ip_address(value)
        except ValueError:
            names.add(value.lower())
            continue
        if not addr.is_unspecified:  # 0.0.0.0 / :: are bind addresses, never a name to reach us by
            addrs.add(addr)
    return names, addrs


def _serving_cert_ok(pki: Pki, names: set[str], addrs: set[IPAddr]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(pki.serving_cert_path.read_bytes())
        key = serialization.load_pem_private_key(pki.serving_key_path.read_bytes(), None)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not _same_public_key(cert, key):
        return False
    if not pki.issued_by_ca(cert) or cert.not_valid_after_utc - RENEW_BEFORE < _now():
        return False
    have_names = {n.lower() for n in san.get_values_for_type(x509.DNSName)}
    have_addrs = set(san.get_values_for_type(x509.IPAddress))
    return names <= have_names and addrs <= have_addrs


def _issue_serving_cert(pki: Pki, names: set[str], addrs: set[IPAddr]) -> None:
    key = _new_key()
    san = x509.SubjectAlternativeName(
        [*(x509.DNSName(n) for n in sorted(names)), *(x509.IPAddress(a) for a in sorted(addrs, key=str))]
    )
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
    cert = pki._sign(subject, key, SERVING_DAYS, ExtendedKeyUsageOID.SERVER_AUTH, san)
    write_private(pki.serving_key_path, _key_pem(key))
    write_private(pki.serving_cert_path, _cert_pem(cert), 0o644)


def ensure_pki(data_dir: Path, hostnames: list[str] | None = None, ips: list[str] | None = None) -> Pki:
    """Load or create the CA and a serving certificate valid for all the names we may be reached by."""
    directory = private_dir(Path(data_dir) / "pki")
    pki = _load_ca(directory) or _new_ca(directory)
    names, addrs = _wanted_san(list(hostnames or []), list(ips or []))
    if not _serving_cert_ok(pki, names, addrs):
        _issue_serving_cert(pki, names, addrs)
    return pki


def ssl_server_context(pki: Pki) -> ssl.SSLContext:
    """TLS 1.2+ server context; asks for a client certificate and verifies it against the CA if given.

    ``CERT_OPTIONAL`` lets bearer-token clients in without a certificate, while a
    certificate from another CA fails the handshake.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(pki.serving_cert_path, pki.serving_key_path)
    ctx.load_verify_locations(cadata=pki.ca_pem.decode())
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])  # aiohttp speaks HTTP/1.1; Go clients fall back from h2
    return ctx


def ssl_client_context(
    pki: Pki, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """A client context trusting only the cluster CA, optionally presenting a client certificate."""
    ctx = ssl.create_default_context(cadata=pki.ca_pem.decode())
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file is not None:
        ctx.load_cert_chain(cert_file, key_file)
    return ctx
