"""Secrets at rest: AES-GCM round trip, pass-through of old values, tamper detection."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kubelite.api.security.encryption import DecryptionFailed, Encryptor


def test_round_trip_and_key_file(tmp_path: Path) -> None:
    enc = Encryptor.load(tmp_path)
    key = tmp_path / "pki" / "encryption.key"
    assert len(key.read_bytes()) == 32 and stat.S_IMODE(key.stat().st_mode) == 0o600
    sealed = enc.encrypt(b'{"data":{"password":"aHVudGVyMg=="}}')
    assert sealed.startswith(b"k8s:enc:aesgcm:v1:key1:")
    assert b"aHVudGVyMg" not in sealed
    assert enc.decrypt(sealed) == b'{"data":{"password":"aHVudGVyMg=="}}'
    assert Encryptor.load(tmp_path).decrypt(sealed) == b'{"data":{"password":"aHVudGVyMg=="}}'  # same key
    assert enc.encrypt(b"x") != enc.encrypt(b"x")  # fresh nonce each time
    assert enc.decrypt(enc.encrypt(b"")) == b""


def test_plaintext_passes_through(tmp_path: Path) -> None:
    enc = Encryptor.load(tmp_path)
    assert enc.decrypt(b'{"kind":"Secret"}') == b'{"kind":"Secret"}'
    assert not Encryptor.is_encrypted(b'{"kind":"Secret"}')


def test_tampering_is_detected(tmp_path: Path) -> None:
    enc = Encryptor.load(tmp_path)
    sealed = bytearray(enc.encrypt(b"secret value"))
    sealed[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        enc.decrypt(bytes(sealed))
    with pytest.raises(DecryptionFailed, match="truncated"):
        enc.decrypt(enc.encrypt(b"secret value")[:30])


def test_context_binds_the_storage_key(tmp_path: Path) -> None:
    enc = Encryptor.load(tmp_path)
    sealed = enc.encrypt(b"v", b"/registry/secrets/default/a")
    assert enc.decrypt(sealed, b"/registry/secrets/default/a") == b"v"
    with pytest.raises(DecryptionFailed):
        enc.decrypt(sealed, b"/registry/secrets/default/b")


def test_other_key_or_key_name_fails(tmp_path: Path) -> None:
    sealed = Encryptor.load(tmp_path / "one").encrypt(b"v")
    with pytest.raises(DecryptionFailed):
        Encryptor.load(tmp_path / "two").decrypt(sealed)
    with pytest.raises(DecryptionFailed, match="key2"):
        Encryptor(bytes(32), "key1").decrypt(Encryptor(bytes(32), "key2").encrypt(b"v"))
    with pytest.raises(FileNotFoundError):
        Encryptor.load(tmp_path / "three", create=False)
    with pytest.raises(ValueError):
        Encryptor(b"short")
