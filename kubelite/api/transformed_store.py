"""A store whose values are rewritten on their way in and out, as kube-apiserver's storage transformers do.

Encryption at rest (secrets sealed below the registry) and version conversion
(events.k8s.io/v1 over core/v1 Event objects) both need every path through
the store — get, list, watch events, compare-and-swap writes, deletes — to
see the same transformation and nothing else to know about it. This base
class holds that delegation once; a subclass says only how a value is
written (``write``) and read back (``read``).
"""

from __future__ import annotations

from dataclasses import replace
from types import TracebackType
from typing import Any, Self

from kubelite.store.contracts import Event, KeyValue, ListResult, Store, Watch


class TransformedStore:
    """Delegates to ``inner``, passing values through ``write`` on the way in and ``read`` on the way out."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:  # driver extras (options, paths) stay reachable
        return getattr(self.inner, name)

    def read(self, kv: KeyValue) -> KeyValue:
        return kv

    def write(self, key: str, value: bytes) -> bytes:
        return value

    async def get(self, key: str, revision: int = 0) -> KeyValue:
        return self.read(await self.inner.get(key, revision))

    async def list(self, prefix: str, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult:
        res = await self.inner.list(prefix, revision, limit, start_after)
        return replace(res, items=[self.read(kv) for kv in res.items])

    async def count(self, prefix: str) -> int:
        return await self.inner.count(prefix)

    async def create(self, key: str, value: bytes) -> KeyValue:
        return replace(await self.inner.create(key, self.write(key, value)), value=value)

    async def update(self, key: str, value: bytes, expected_revision: int = 0) -> KeyValue:
        return replace(await self.inner.update(key, self.write(key, value), expected_revision), value=value)

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        return self.read(await self.inner.delete(key, expected_revision))

    async def watch(self, prefix: str, revision: int = 0) -> Watch:
        return _TransformedWatch(await self.inner.watch(prefix, revision), self)

    async def current_revision(self) -> int:
        return await self.inner.current_revision()

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)

    async def close(self) -> None:
        await self.inner.close()


class _TransformedWatch:
    def __init__(self, inner: Watch, store: TransformedStore) -> None:
        self.inner = inner
        self.store = store

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        ev = await self.inner.__anext__()
        prev = self.store.read(ev.prev_kv) if ev.prev_kv is not None else None
        return replace(ev, kv=self.store.read(ev.kv), prev_kv=prev)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aenter__(self) -> Self:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.inner.__aexit__(et, e, tb)
