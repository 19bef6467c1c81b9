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
from types import TracebackType
from typing import Any, Self

from kubelite.api.security.encryption import DecryptionFailed, Encryptor
from kubelite.store.contracts import Event, KeyValue, ListResult, Store, Watch

SECRETS_PREFIX = "/registry/secrets/"


class EncryptedStore:
    """Delegates to ``inner``; seals values under :data:`SECRETS_PREFIX` on the way in, opens them on the way out."""

    def __init__(self, inner: Store, encryptor: Encryptor, prefix: str = SECRETS_PREFIX) -> None:
        self.inner = inner
        self.encryptor = encryptor
        self.prefix = prefix

    def __getattr__(self, name: str) -> Any:  # driver extras (options, paths) stay reachable
        return getattr(self.inner, name)

    def _seal(self, key: str, value: bytes) -> bytes:
        return self.encryptor.encrypt(value, key.encode()) if key.startswith(self.prefix) else value

    def open_kv(self, kv: KeyValue) -> KeyValue:
        if not kv.key.startswith(self.prefix) or not Encryptor.is_encrypted(kv.value):
            return kv
        try:
            return replace(kv, value=self.encryptor.decrypt(kv.value, kv.key.encode()))
        except DecryptionFailed as e:
            raise DecryptionFailed(f'Internal error occurred: unable to transform key "{kv.key}": {e}') from None

    async def get(self, key: str, revision: int = 0) -> KeyValue:
        return self.open_kv(await self.inner.get(key, revision))

    async def list(self, prefix: str, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult:
        res = await self.inner.list(prefix, revision, limit, start_after)
        return replace(res, items=[self.open_kv(kv) for kv in res.items])

    async def count(self, prefix: str) -> int:
        return await self.inner.count(prefix)

    async def create(self, key: str, value: bytes) -> KeyValue:
        return replace(await self.inner.create(key, self._seal(key, value)), value=value)

    async def update(self, key: str, value: bytes, expected_revision: int = 0) -> KeyValue:
        return replace(await self.inner.update(key, self._seal(key, value), expected_revision), value=value)

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        return self.open_kv(await self.inner.delete(key, expected_revision))

    async def watch(self, prefix: str, revision: int = 0) -> Watch:
        return _OpenedWatch(await self.inner.watch(prefix, revision), self)

    async def current_revision(self) -> int:
        return await self.inner.current_revision()

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)

    async def close(self) -> None:
        await self.inner.close()


class _OpenedWatch:
    def __init__(self, inner: Watch, store: EncryptedStore) -> None:
        self.inner = inner
        self.store = store

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        ev = await self.inner.__anext__()
        prev = self.store.open_kv(ev.prev_kv) if ev.prev_kv is not None else None
        return replace(ev, kv=self.store.open_kv(ev.kv), prev_kv=prev)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aenter__(self) -> Self:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.inner.__aexit__(et, e, tb)
