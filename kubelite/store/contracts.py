"""The store contract: exactly what the API server may rely on, and nothing more.

Every driver (``sqlite``, ``etcd``) implements :class:`Store` and is proven by
the same conformance suite (``tests/store/test_conformance.py``). The semantics
are etcd v3's, narrowed to what Kubernetes needs, with a few edges pinned down:

Revisions
    One global counter for the whole store, strictly increasing, starting at 1
    for an empty store (so 0 can always mean "now" / "any"). Every successful
    create, update and delete takes exactly one new revision; failed operations
    take none. A key's ``mod_revision`` is the revision of its last change (it
    becomes ``metadata.resourceVersion``); ``create_revision`` is the revision
    that created this incarnation of the key.

Reads at a revision
    ``get``/``list`` with ``revision=R > 0`` read the snapshot as it was right
    after revision R was written. ``R < compacted revision`` raises
    :class:`~kubelite.errors.Gone`; ``R > current`` raises
    :class:`~kubelite.errors.Invalid`. ``list`` returns the revision of the
    snapshot it read, so a paginated list passes that revision back with
    ``start_after=continue_key`` and sees the same snapshot while writes go on.

Conditional writes
    ``create`` succeeds only if the key is absent (``AlreadyExists``).
    ``update``/``delete`` with ``expected_revision=E > 0`` succeed only if the
    key's ``mod_revision == E`` (``Conflict``); ``E = 0`` means "whatever the
    revision". Both raise ``NotFound`` if the key is absent (checked first).
    ``delete`` returns the key's last value with ``mod_revision`` set to the
    revision of the deletion (Kubernetes reports a deleted object that way).

Watch
    ``watch(prefix, revision=R)`` delivers, in revision order, every change to
    keys starting with ``prefix`` whose revision is *strictly greater* than R:
    Kubernetes' resourceVersion semantics, so a list at R followed by a watch
    from R misses nothing and repeats nothing. ``R = 0`` means "from now": the
    changes after the current revision when ``watch`` returns. ``R`` below the
    compacted revision raises ``Gone`` (HTTP 410) from ``await watch(...)``
    itself, before any event. A ``DELETE`` event's ``kv`` is the deleted value
    with the deletion's revision as ``mod_revision``; ``prev_kv`` is the last
    live version (for ``PUT`` of an existing key too; ``None`` on creation).
    A watcher that falls too far behind is dropped: its iterator raises
    :class:`WatchTooSlow`, and the client re-watches from the last revision it
    saw. ``aclose()`` (or ``async with``) ends a watch.

Compaction
    ``compact(C)`` forgets the history before C: afterwards reads at ``R >= C``
    and watches from ``R >= C`` still work, anything older is ``Gone``.
    Compacting to ``C <= compacted revision`` is a no-op; ``C > current`` is
    ``Invalid``. Drivers also compact automatically (see ``compaction.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Protocol, Self, runtime_checkable

from kubelite.errors import Unavailable

EventType = Literal["PUT", "DELETE"]


class WatchTooSlow(Unavailable):
    """The watcher fell too far behind the writers and was dropped; re-watch from the last revision seen."""


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int  # the snapshot's revision: pass it back with start_after to continue
    more: bool = False  # True if keys after continue_key remain in the snapshot
    continue_key: str = ""  # the last key returned when more is True, else ""


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    kv: KeyValue  # for DELETE: the deleted value, with the deletion's revision as mod_revision
    prev_kv: KeyValue | None  # the last live version before this change; None on creation

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@runtime_checkable
class Watch(Protocol):
    """An open watch: an async iterator of events that must be closed."""

    def __aiter__(self) -> Self: ...

    async def __anext__(self) -> Event: ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None: ...


@runtime_checkable
class Store(Protocol):
    """A revisioned key-value store; see the module docstring for the exact semantics."""

    async def get(self, key: str, revision: int = 0) -> KeyValue: ...

    async def list(self, prefix: str, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult: ...

    async def count(self, prefix: str) -> int: ...

    async def create(self, key: str, value: bytes) -> KeyValue: ...

    async def update(self, key: str, value: bytes, expected_revision: int = 0) -> KeyValue: ...

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue: ...

    async def watch(self, prefix: str, revision: int = 0) -> Watch: ...

    async def current_revision(self) -> int: ...

    async def compact(self, revision: int) -> None: ...

    async def close(self) -> None: ...


def prefix_end(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix`` ("" = no upper bound).

    Keys compare by code point, which matches UTF-8 byte order (SQLite's BINARY collation, etcd's bytes).
    """
    p = prefix.rstrip("\U0010ffff")
    if not p:
        return ""
    return p[:-1] + chr(ord(p[-1]) + 1)


class WatchBase:
    """``async with`` and ``__aiter__`` for watch implementations, which supply ``__anext__`` and ``aclose``."""

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()
