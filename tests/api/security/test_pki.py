"""The PKI is idempotent, private, and heals itself when the serving certificate no longer fits."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubelite.api.security.pki import Pki, _new_key, ensure_pki, ssl_server_context


def serving(pki: Pki) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pki.serving_cert_path.read_bytes())


def sans(pki: Pki) -> tuple[set[str], set[str]]:
    san = serving(pki).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)), {
        str(a) for a in san.get_values_for_type(x509.IPAddress)
    }


def test_ca_and_serving_certificate(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, ["api.example.com"], ["10.43.0.1", "0.0.0.0"])
    assert pki.ca_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kubelite-ca"
    assert pki.ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    validity = pki.ca_cert.not_valid_after_utc - pki.ca_cert.not_valid_before_utc
    assert validity.days >= 3650
    assert isinstance(pki.ca_key, ec.EllipticCurvePrivateKey)
    names, ips = sans(pki)
    assert {
        "localhost",
        socket.gethostname().lower(),
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "api.example.com",
    } <= names
    assert ips == {"127.0.0.1", "::1", "10.96.0.1", "10.43.0.1"}  # never the wildcard bind address
    cert = serving(pki)
    assert pki.issued_by_ca(cert)
    assert (
        ExtendedKeyUsageOID.SERVER_AUTH
        in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    assert pki.ca_fingerprint().startswith("sha256:") and len(pki.ca_fingerprint()) == 7 + 64


def test_file_permissions(tmp_path: Path) -> None:
    ensure_pki(tmp_path, [], [])
    d = tmp_path / "pki"
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE((d / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((d / "server.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((d / "ca.crt").stat().st_mode) == 0o644


def test_idempotent(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path, ["a.example"], ["10.0.0.1"])
    before = {p.name: p.read_bytes() for p in (tmp_path / "pki").iterdir()}
    second = ensure_pki(tmp_path, ["a.example"], ["10.0.0.1"])
    assert {p.name: p.read_bytes() for p in (tmp_path / "pki").iterdir()} == before
    assert second.ca_cert == first.ca_cert
    ensure_pki(tmp_path, [], [])  # a subset of the names: still fits, nothing rewritten
    assert {p.name: p.read_bytes() for p in (tmp_path / "pki").iterdir()} == before


def test_new_san_regenerates_serving_certificate_only(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path, [], [])
    ca_before = first.ca_cert_path.read_bytes()
    old_serial = serving(first).serial_number
    second = ensure_pki(tmp_path, ["new.example"], ["192.0.2.7"])
    assert second.ca_cert_path.read_bytes() == ca_before
    assert serving(second).serial_number != old_serial
    names, ips = sans(second)
    assert "new.example" in names and "192.0.2.7" in ips
    assert ipaddress.ip_address("192.0.2.7")


def test_expiring_serving_certificate_is_renewed(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, [], [])
    key = _new_key()
    san = serving(pki).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    short = pki._sign(serving(pki).subject, key, 10, ExtendedKeyUsageOID.SERVER_AUTH, san)
    from kubelite.api.security.pki import _cert_pem, _key_pem

    pki.serving_cert_path.write_bytes(_cert_pem(short))
    pki.serving_key_path.write_bytes(_key_pem(key))
    ensure_pki(tmp_path, [], [])
    assert serving(pki).serial_number != short.serial_number
    assert (serving(pki).not_valid_after_utc - serving(pki).not_valid_before_utc).days >= 300


def test_lost_ca_key_makes_a_new_ca_and_serving_certificate(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path, [], [])
    first.ca_key_path.unlink()
    second = ensure_pki(tmp_path, [], [])
    assert second.ca_cert != first.ca_cert
    assert second.issued_by_ca(serving(second))


def test_garbage_serving_key_is_replaced(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, [], [])
    pki.serving_key_path.write_bytes(b"garbage")
    ensure_pki(tmp_path, [], [])
    ssl_server_context(pki)  # loads: key and certificate match again


def test_client_certificate_subject(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, [], [])
    pem, key_pem = pki.issue_client_cert("alice", ["g1", "g2"])
    cert = x509.load_pem_x509_certificate(pem)
    assert pki.issued_by_ca(cert)
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["alice"]
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["g1", "g2"]
    assert (
        ExtendedKeyUsageOID.CLIENT_AUTH
        in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    assert b"PRIVATE KEY" in key_pem


def test_server_context(tmp_path: Path) -> None:
    ctx = ssl_server_context(ensure_pki(tmp_path, [], []))
    assert ctx.verify_mode == ssl.CERT_OPTIONAL
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
