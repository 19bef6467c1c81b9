"""Encryption at rest for Secrets: AES-256-GCM with Kubernetes' envelope prefix.

Design choices:

- The stored value is ``k8s:enc:aesgcm:v1:<key name>:`` + a 12-byte random
  nonce + ciphertext and tag, the layout of kube-apiserver's ``aesgcm``
  provider, so a reader can tell at a glance what it is and which key opened it.
- :meth:`Encryptor.decrypt` passes through any value without the prefix:
  Secrets written before encryption was turned on still read, and are
  encrypted the next time they are written.
- ``context`` is bound to the ciphertext as GCM associated data; the API layer
  passes the storage key (``/registry/secrets/NS/NAME``), so a ciphertext
  copied under another Secret's key fails to decrypt instead of leaking there.
- A tampered or truncated value, or one sealed with an unknown key name, raises
  :class:`DecryptionFailed`: never garbage.
- Random 96-bit nonces are safe for about 2**32 encryptions per key (NIST
  SP 800-38D); far beyond a small cluster's Secret writes, but rotate the key
  anyway. TODO: key rotation (several named keys, the first one writes).

The key lives in ``DATA_DIR/pki/encryption.key``: 32 raw random bytes, 0600.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubelite.api.security.files import private_dir, write_private
from kubelite.errors import KubeliteError

PREFIX = b"k8s:enc:aesgcm:v1:"
KEY_NAME = "key1"
KEY_BYTES = 32
NONCE_BYTES = 12


class DecryptionFailed(KubeliteError):
    """A stored value claims to be encrypted but cannot be opened: tampered, truncated or another key."""


class Encryptor:
    """Seals and opens values with one named AES-GCM key."""

    def __init__(self, key: bytes, name: str = KEY_NAME) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"an AES-256-GCM key is {KEY_BYTES} bytes, not {len(key)}")
        if not name or ":" in name:
            raise ValueError("a key name must be non-empty and free of ':'")
        self.name = name
        self._aead = AESGCM(key)
        self._prefix = PREFIX + name.encode() + b":"

    @classmethod
    def load(cls, data_dir: Path, create: bool = True) -> Encryptor:
        """The encryptor of ``DATA_DIR/pki/encryption.key``, making the key on first use if ``create``."""
        path = Path(data_dir) / "pki" / "encryption.key"
        try:
            key = path.read_bytes()
        except FileNotFoundError:
            if not create:
                raise
            private_dir(path.parent)
            key = os.urandom(KEY_BYTES)
            write_private(path, key)
        return cls(key)

    def encrypt(self, plaintext: bytes, context: bytes = b"") -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return self._prefix + nonce + self._aead.encrypt(nonce, plaintext, context or None)

    def decrypt(self, data: bytes, context: bytes = b"") -> bytes:
        if not data.startswith(PREFIX):
            return data
        if not data.startswith(self._prefix):
            name = data[len(PREFIX) :].split(b":", 1)[0].decode(errors="replace")
            raise DecryptionFailed(f"value was encrypted with key {name!r}, which this server does not have")
        body = data[len(self._prefix) :]
        if len(body) < NONCE_BYTES + 16:
            raise DecryptionFailed("encrypted value is truncated")
        try:
            return self._aead.decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], context or None)
        except InvalidTag:
            raise DecryptionFailed(
                "encrypted value failed authentication: tampered, or another key"
            ) from None

    @staticmethod
    def is_encrypted(data: bytes) -> bool:
        return data.startswith(PREFIX)
