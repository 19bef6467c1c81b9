"""The sqlite driver: the embedded default datastore, ``sqlite:///path/to/state.db``.

Threads, because SQLite calls block: one *writer* thread owns the only
writable connection and a small pool of *reader* threads each own a read-only
connection (WAL lets readers run beside the writer on their own snapshots).
The event loop only schedules, with one exception: a single-key ``get`` runs
on the loop's own read-only connection. It is a primary-key lookup (~16 µs)
that WAL never makes wait for the writer or a checkpoint, and handing it to a
reader thread cost seven times that in CPU (the hand-off and the GIL's
back-and-forth), on every update and patch the API server serves.

Group commit: the writer takes every write queued at that moment and runs
them in one transaction with one fsync (``synchronous=FULL``), then resolves
their futures. A lone client pays one fsync per write, like etcd; many
concurrent clients share fsyncs. A write is acknowledged only after COMMIT
returned, so every acknowledged write survives ``kill -9`` (and power loss).

The newest values this process wrote are kept in memory (:class:`LatestValues`), so
the get that starts every update and patch is not a database read: each commit
makes SQLite discard the reading connection's page cache, and the lookup that
followed cost four times as much as one on a quiet database.

Watches are fed from the writer's committed events through the in-process
:class:`~kubelite.store.watchhub.Hub`; only a watch from an old revision reads
the database, once. The database belongs to one process at a time: a lock
file beside it makes a second opener fail instead of corrupting the watch
stream and the writer's revision counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kubelite.errors import Invalid, KubeliteError, Unavailable
from kubelite.store.compaction import AutoCompactor
from kubelite.store.contracts import Event, KeyValue, ListResult, Watch
from kubelite.store.options import StoreOptions
from kubelite.store.sqlite_log import COMPACT_CHUNK, SqliteLog, WriteOp, connect
from kubelite.store.watchhub import Hub

T = TypeVar("T")
MAX_BATCH = 256


@dataclass
class _Job:
    op: WriteOp
    fut: asyncio.Future[Any]


class _Writer:
    """The single writer thread: queue in, batches through :meth:`SqliteLog.run_batch`, results back on the loop."""

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop,
                 on_commit: Callable[[list[Event], int], None]) -> None:
        self._path = path
        self._loop = loop
        self._on_commit = on_commit
        self._q: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._ready: asyncio.Future[int] = loop.create_future()
        self._thread = threading.Thread(target=self._run, name=f"kubelite-store-writer:{path.name}", daemon=True)

    async def start(self) -> int:
        self._thread.start()
        return await self._ready

    def submit(self, op: WriteOp) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._q.put(_Job(op, fut))
        return fut

    def stop(self) -> None:
        self._q.put(None)
        self._thread.join()

    def _call(self, fn: Callable[..., object], *args: object) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more

    def _run(self) -> None:
        try:
            log = SqliteLog(connect(self._path))
            log.init_schema()
        except Exception as e:
            self._call(self._ready.set_exception, Unavailable(f"cannot open datastore {self._path}: {e}"))
            return
        self._call(self._ready.set_result, log.rev)
        running = True
        while running:
            job = self._q.get()
            if job is None:
                break
            batch = [job]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    running = False
                    break
                batch.append(nxt)
            try:
                results = log.run_batch([j.op for j in batch])
            except Exception as e:
                results = [Unavailable(f"datastore write failed: {e}") for _ in batch]
            self._call(self._finish, batch, results, log.rev)
        log.conn.close()

    def _finish(self, batch: list[_Job], results: list[object], revision: int) -> None:
        self._on_commit([r for r in results if isinstance(r, Event)], revision)
        for job, res in zip(batch, results, strict=True):
            if job.fut.done():
                continue
            if isinstance(res, BaseException):
                job.fut.set_exception(res)
            else:
                job.fut.set_result(res)


class LatestValues:
    """The newest committed value of recently written keys, bounded by total value size (oldest dropped).

    Exact because the database belongs to this process: every write passes :meth:`committed`, on the event
    loop, before its caller hears of it, so a get served from here sees every acknowledged write. Revisions
    only move forward per key (batches are published in commit order, but the guard costs nothing).
    Deleted keys are forgotten, not remembered as absent: the database answers for them.
    """

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self._values: OrderedDict[str, KeyValue] = OrderedDict()
        self._bytes = 0
        self.max_bytes = max_bytes

    def get(self, key: str) -> KeyValue | None:
        kv = self._values.get(key)
        if kv is not None:
            self._values.move_to_end(key)
        return kv

    def committed(self, events: list[Event]) -> None:
        for ev in events:
            old = self._values.get(ev.kv.key)
            if old is not None:
                if old.mod_revision >= ev.kv.mod_revision:
                    continue
                del self._values[ev.kv.key]
                self._bytes -= len(old.value)
            if ev.type == "PUT":
                self._values[ev.kv.key] = ev.kv
                self._bytes += len(ev.kv.value)
        while self._bytes > self.max_bytes and self._values:
            _, dropped = self._values.popitem(last=False)
            self._bytes -= len(dropped.value)

    def __len__(self) -> int:
        return len(self._values)


@contextlib.contextmanager
def _read_errors() -> Iterator[None]:
    """A failed read is Unavailable, unless it is already one of ours (NotFound, Gone...)."""
    try:
        yield
    except KubeliteError:
        raise
    except Exception as e:
        raise Unavailable(f"datastore read failed: {e}") from e


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise Invalid(f"store keys are non-empty strings, not {key!r}")


class SqliteStore:
    """See the module docstring; open with :meth:`open` (or ``open_store("sqlite:///...")``)."""

    def __init__(self, path: Path, options: StoreOptions) -> None:
        self.path = path
        self.options = options
        self._hub = Hub()
        self.latest = LatestValues()
        self._revision = 0
        self._closed = False
        self._local = threading.local()
        self._reader_logs: list[SqliteLog] = []
        self._loop_log: SqliteLog | None = None
        self._readers_lock = threading.Lock()
        self._readers = ThreadPoolExecutor(options.readers, thread_name_prefix=f"kubelite-store-reader:{path.name}")
        self._lock_fd = -1
        self._writer: _Writer | None = None
        self._compactor = AutoCompactor(self, options)

    @classmethod
    async def open(cls, path: Path, options: StoreOptions | None = None) -> SqliteStore:
        self = cls(path, options or StoreOptions())
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise Unavailable(f"datastore {path} is in use by another process") from None
        self._writer = _Writer(path, asyncio.get_running_loop(), self._committed)
        try:
            self._revision = await self._writer.start()
        except BaseException:
            self._readers.shutdown()
            os.close(self._lock_fd)
            raise
        self._compactor.start()
        return self

    def _committed(self, events: list[Event], revision: int) -> None:
        self._revision = max(self._revision, revision)
        self.latest.committed(events)
        self._hub.publish(events)

    def _check_open(self) -> _Writer:
        if self._closed or self._writer is None:
            raise Unavailable("the datastore is closed")
        return self._writer

    async def _write(self, op: WriteOp) -> Any:
        return await self._check_open().submit(op)

    async def _write_event(self, op: Callable[[SqliteLog], Event]) -> Event:
        ev = await self._write(op)
        assert isinstance(ev, Event)
        return ev

    def _reader(self) -> SqliteLog:
        log: SqliteLog | None = getattr(self._local, "log", None)
        if log is None:
            log = SqliteLog(connect(self.path, readonly=True))
            self._local.log = log
            with self._readers_lock:
                self._reader_logs.append(log)
        return log

    async def _read(self, fn: Callable[[SqliteLog], T]) -> T:
        self._check_open()
        with _read_errors():
            return await asyncio.get_running_loop().run_in_executor(self._readers, lambda: fn(self._reader()))

    # ------------------------------------------------------------------ the Store contract

    async def get(self, key: str, revision: int = 0) -> KeyValue:
        _check_key(key)
        self._check_open()
        if revision == 0:
            kv = self.latest.get(key)
            if kv is not None:
                return kv
        with _read_errors():
            if self._loop_log is None:
                self._loop_log = SqliteLog(connect(self.path, readonly=True))
            return self._loop_log.get(key, revision)

    async def list(self, prefix: str, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult:
        if limit < 0 or revision < 0:
            raise Invalid("limit and revision must not be negative")
        items, rev, more = await self._read(lambda log: log.list_at(prefix, revision, limit, start_after))
        return ListResult(items, rev, more, items[-1].key if more else "")

    async def count(self, prefix: str) -> int:
        return await self._read(lambda log: log.count(prefix))

    async def create(self, key: str, value: bytes) -> KeyValue:
        _check_key(key)
        return (await self._write_event(lambda log: log.create(key, bytes(value)))).kv

    async def update(self, key: str, value: bytes, expected_revision: int = 0) -> KeyValue:
        _check_key(key)
        return (await self._write_event(lambda log: log.update(key, bytes(value), expected_revision))).kv

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        _check_key(key)
        return (await self._write_event(lambda log: log.delete(key, expected_revision))).kv

    async def watch(self, prefix: str, revision: int = 0) -> Watch:
        self._check_open()
        if revision < 0:
            raise Invalid("revision must not be negative")
        if revision == 0:
            return self._hub.register(prefix, self._revision, self.options.watch_queue)
        w = self._hub.register(prefix, revision, self.options.watch_queue)
        try:
            w.set_backlog(await self._read(lambda log: log.events_after(prefix, revision)))
        except BaseException:
            await w.aclose()
            raise
        return w

    async def current_revision(self) -> int:
        self._check_open()
        return self._revision

    async def compact(self, revision: int) -> None:
        span = await self._write(lambda log: log.mark_compacted(revision))
        if span is None:
            return
        lo, hi = span
        while lo < hi:
            nxt = min(lo + COMPACT_CHUNK, hi)
            await self._write(functools.partial(SqliteLog.clean_chunk, lo=lo, hi=nxt))
            lo = nxt

    async def close(self) -> None:
        if self._closed:
            return
        await self._compactor.stop()
        self._closed = True
        self._hub.close()
        if self._writer is not None:
            await asyncio.to_thread(self._writer.stop)
        self._readers.shutdown(wait=True)
        with self._readers_lock:
            for log in self._reader_logs:
                log.conn.close()
            self._reader_logs.clear()
        if self._loop_log is not None:
            self._loop_log.conn.close()
            self._loop_log = None
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    @property
    def watchers(self) -> int:
        """How many watches are open (for tests and metrics)."""
        return len(self._hub)
