"""Secrets encrypted at rest: a :class:`~kubelite.store.contracts.Store` that seals values under one prefix.

kube-apiserver encrypts in its storage transformer, below the registry and
above etcd; this is the same place: a wrapper around the store the API's
:class:`~kubelite.api.storage.Storage` and watches use, so every path that
reads or writes a Secret (get, list, watch events, compare-and-swap updates,
deletes) goes through it and nothing else needs to know. Only values under
``/registry/secrets/`` are sealed; the storage key is the AES-GCM associated
data (the encryptor's ``context``), so a ciphertext moved under another key
does not open. A value that does not open raises
:class:`~kubelite.api.security.encryption.DecryptionFailed` with the key in
the message, which the HTTP edge turns into a 500 Status, as kube does.
Values written before encryption was on are read as they are and sealed on
their next write.
"""

from __future__ import annotations

from dataclasses import replace

from kubelite.api.security.encryption import DecryptionFailed, Encryptor
from kubelite.api.transformed_store import TransformedStore
from kubelite.store.contracts import KeyValue, Store

SECRETS_PREFIX = "/registry/secrets/"


class EncryptedStore(TransformedStore):
    """Seals values under :data:`SECRETS_PREFIX` on the way in, opens them on the way out."""

    def __init__(self, inner: Store, encryptor: Encryptor, prefix: str = SECRETS_PREFIX) -> None:
        super().__init__(inner)
        self.encryptor = encryptor
        self.prefix = prefix

    def write(self, key: str, value: bytes) -> bytes:
        return self.encryptor.encrypt(value, key.encode()) if key.startswith(self.prefix) else value

    def read(self, kv: KeyValue) -> KeyValue:
        if not kv.key.startswith(self.prefix) or not Encryptor.is_encrypted(kv.value):
            return kv
        try:
            return replace(kv, value=self.encryptor.decrypt(kv.value, kv.key.encode()))
        except DecryptionFailed as e:
            raise DecryptionFailed(f'Internal error occurred: unable to transform key "{kv.key}": {e}') from None

