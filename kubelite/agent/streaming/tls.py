"""TLS for the node's streaming API: a self-signed serving certificate, the API server's client certificate.

Like a kubelet without ``--tls-cert-file``, the agent makes its own serving
certificate (EC P-256, one year, its node name and addresses as SANs); the API
server does not verify it, as kube-apiserver does not without
``--kubelet-certificate-authority``. The other direction is what protects the
node: a client must present a certificate signed by the cluster CA (checked by
the TLS handshake) whose CN is ``kube-apiserver-kubelet-client`` (checked per
request by :func:`client_cn`, so a wrong identity gets a 403 and no
certificate a 401, not a bare handshake failure).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

APISERVER_CLIENT_CN = "kube-apiserver-kubelet-client"


def self_signed(hostnames: list[str], ips: list[str]) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for a serving certificate signed by its own key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{hostnames[0] if hostnames else 'node'}@kubelite")])
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
    for ip in ips:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(ip)))
        except ValueError:
            continue
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def load_chain(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """``load_cert_chain`` wants files: write them to a private directory only for the call."""
    with tempfile.TemporaryDirectory(prefix="kubelite-tls-") as d:
        cert, key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
        for path, data in ((cert, cert_pem), (key, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        ctx.load_cert_chain(cert, key)


def server_context(ca_pem: bytes, hostnames: list[str], ips: list[str]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    load_chain(ctx, *self_signed(hostnames, ips))
    ctx.load_verify_locations(cadata=ca_pem.decode())
    ctx.verify_mode = ssl.CERT_OPTIONAL  # no certificate: a 401 from the handler, not a handshake error
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def client_cn(ssl_object: Any) -> str | None:
    """The CN of the verified client certificate, or None when the client sent none."""
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert()
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""
