"""The SQLite schema and every SQL statement of the sqlite driver, synchronous and thread-agnostic.

Kine's idea: the whole store is one append-only log table. Each row is one
change; its ``id`` *is* the revision, so the global, strictly increasing
revision comes from the primary key and needs no counter of its own::

    kv(id INTEGER PRIMARY KEY AUTOINCREMENT,  -- revision of this change
       name TEXT,                              -- the key
       deleted INTEGER,                        -- 1: a tombstone (the key was deleted here)
       create_revision INTEGER,                -- revision that created this incarnation
       prev_revision INTEGER,                  -- id of the key's previous row, 0 if none
       value BLOB)                             -- new value (a tombstone keeps the deleted value)
    index kv_name_id(name, id)
    meta(key TEXT PRIMARY KEY, value INTEGER)  -- 'compact': compacted revision,
                                               -- 'compact_floor': ids below it are cleaned

The state at revision R is, per name, the newest row with ``id <= R`` unless
it is a tombstone; watching is reading rows by id. ``sqlite_sequence`` keeps
the highest revision ever issued even when compaction deleted its row, and is
seeded with 1 so a fresh store is at revision 1 like etcd.

Compaction to C deletes rows no read at ``R >= C`` and no watch after ``R >= C``
can need: rows superseded by a newer row of the same name with ``id <= C``
(found through that row's ``prev_revision``), and tombstones with ``id <= C``.
The ``compact`` mark moves first, in its own transaction, so readers refuse
old revisions before any row disappears; the deletion then walks the new rows
since the last compaction (``compact_floor``) in chunks, each its own short
write transaction, so writers are never blocked for long.

Only one process may write the database (the driver holds a lock file), and
only one thread in it (the writer): that thread tracks the revision itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from kubelite.errors import AlreadyExists, Conflict, Gone, Invalid, KubeliteError, NotFound
from kubelite.store.contracts import Event, KeyValue, prefix_end

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    value BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO sqlite_sequence (name, seq) SELECT 'kv', 1 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'kv');
INSERT OR IGNORE INTO meta (key, value) VALUES ('compact', 0), ('compact_floor', 0);
"""

COMPACT_CHUNK = 1000  # revisions cleaned per write transaction

WriteOp = Callable[["SqliteLog"], object]


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (we issue BEGIN/COMMIT ourselves), WAL and fully synchronous."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA busy_timeout = 30000")
    if readonly:
        conn.execute("PRAGMA query_only = 1")
    else:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")  # fsync the WAL on every commit: acknowledged = durable
        conn.execute("PRAGMA journal_size_limit = 67108864")  # shrink the WAL back after checkpoints
    conn.execute("PRAGMA cache_size = -65536")
    return conn


def _range_sql(prefix: str, column: str = "name") -> tuple[str, list[object]]:
    end = prefix_end(prefix)
    if end:
        return f"{column} >= ? AND {column} < ?", [prefix, end]
    return f"{column} >= ?", [prefix]


class SqliteLog:
    """SQL over one connection. Write methods must run inside :meth:`run_batch`, on the single writer thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.rev = 0  # the writer's view of the current revision

    # ---------------------------------------------------------------- set-up

    def init_schema(self) -> None:
        self.conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
        self.rev = self.revisions()[0]

    def revisions(self) -> tuple[int, int]:
        """(current, compacted) as this connection's snapshot sees them."""
        row = self.conn.execute(
            "SELECT (SELECT seq FROM sqlite_sequence WHERE name = 'kv'),"
            " (SELECT value FROM meta WHERE key = 'compact')").fetchone()
        return int(row[0]), int(row[1])

    # ---------------------------------------------------------------- writes

    def run_batch(self, ops: Sequence[WriteOp]) -> list[object]:
        """Run write operations in one transaction and one fsync (group commit).

        An operation that raises a KubeliteError (a failed precondition, checked before it writes
        anything) gets that error as its result; anything else rolls the whole batch back and raises.
        """
        start = self.rev
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            results: list[object] = []
            for op in ops:
                try:
                    results.append(op(self))
                except KubeliteError as e:
                    results.append(e)
            self.conn.execute("COMMIT")
        except BaseException:
            self.rev = start
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        return results

    def _latest(self, key: str) -> tuple[int, int, int, bytes] | None:
        row = self.conn.execute("SELECT id, deleted, create_revision, value FROM kv WHERE name = ?"
                                " ORDER BY id DESC LIMIT 1", (key,)).fetchone()
        return None if row is None else (row[0], row[1], row[2], bytes(row[3]))

    def _append(self, key: str, deleted: int, create_revision: int, prev: int, value: bytes) -> int:
        self.rev += 1
        self.conn.execute("INSERT INTO kv (id, name, deleted, create_revision, prev_revision, value)"
                          " VALUES (?, ?, ?, ?, ?, ?)",
                          (self.rev, key, deleted, create_revision or self.rev, prev, value))
        return self.rev

    def create(self, key: str, value: bytes) -> Event:
        row = self._latest(key)
        if row is not None and not row[1]:
            raise AlreadyExists(f"key {key!r} exists")
        rev = self._append(key, 0, 0, row[0] if row else 0, value)
        return Event("PUT", KeyValue(key, value, rev, rev), None)

    def _live(self, key: str, expected_revision: int) -> KeyValue:
        row = self._latest(key)
        if row is None or row[1]:
            raise NotFound(f"key {key!r} not found")
        if expected_revision and row[0] != expected_revision:
            raise Conflict(f"key {key!r} is at revision {row[0]}, not {expected_revision}")
        return KeyValue(key, row[3], row[2], row[0])

    def update(self, key: str, value: bytes, expected_revision: int) -> Event:
        prev = self._live(key, expected_revision)
        rev = self._append(key, 0, prev.create_revision, prev.mod_revision, value)
        return Event("PUT", KeyValue(key, value, prev.create_revision, rev), prev)

    def delete(self, key: str, expected_revision: int) -> Event:
        prev = self._live(key, expected_revision)
        rev = self._append(key, 1, prev.create_revision, prev.mod_revision, prev.value)
        return Event("DELETE", KeyValue(key, prev.value, prev.create_revision, rev), prev)

    def mark_compacted(self, revision: int) -> tuple[int, int] | None:
        """Move the compaction mark to ``revision``; returns the id range still to clean, or None for a no-op."""
        current, compacted = self.rev, self.revisions()[1]
        if revision > current:
            raise Invalid(f"cannot compact to revision {revision}: the current revision is {current}")
        if revision <= compacted:
            return None
        floor = self.conn.execute("SELECT value FROM meta WHERE key = 'compact_floor'").fetchone()[0]
        self.conn.execute("UPDATE meta SET value = ? WHERE key = 'compact'", (revision,))
        return int(floor), revision

    def clean_chunk(self, lo: int, hi: int) -> int:
        """Delete what the rows with ids in (lo, hi] (all at or below the compaction mark) made unreachable.

        A row is unreachable once its successor (the row whose prev_revision it is) is at or below the
        mark, or if it is a tombstone at or below the mark. Walking successors rather than candidates
        also catches rows that a *previous* compaction had to keep as the newest of their key.
        """
        hi = min(hi, self.revisions()[1])
        n = self.conn.execute("DELETE FROM kv WHERE id IN (SELECT prev_revision FROM kv WHERE id > ? AND id <= ?"
                              " AND prev_revision > 0)", (lo, hi)).rowcount
        n += self.conn.execute("DELETE FROM kv WHERE id > ? AND id <= ? AND deleted = 1", (lo, hi)).rowcount
        self.conn.execute("UPDATE meta SET value = MAX(value, ?) WHERE key = 'compact_floor'", (hi,))
        return n

    # ---------------------------------------------------------------- reads (each its own snapshot)

    def _snapshot(self, revision: int) -> int:
        current, compacted = self.revisions()
        if revision == 0:
            return current
        if revision < compacted:
            raise Gone(f"revision {revision} has been compacted (oldest available: {compacted})")
        if revision > current:
            raise Invalid(f"revision {revision} is in the future (current: {current})")
        return revision

    def get(self, key: str, revision: int) -> KeyValue:
        if revision == 0:  # the latest: one statement is its own snapshot, no revision bounds to check
            latest = self._latest(key)
            if latest is None or latest[1]:
                raise NotFound(f"key {key!r} not found")
            return KeyValue(key, latest[3], latest[2], latest[0])
        with self.conn:
            self.conn.execute("BEGIN")
            rev = self._snapshot(revision)
            row = self.conn.execute("SELECT id, deleted, create_revision, value FROM kv WHERE name = ? AND id <= ?"
                                    " ORDER BY id DESC LIMIT 1", (key, rev)).fetchone()
        if row is None or row[1]:
            raise NotFound(f"key {key!r} not found")
        return KeyValue(key, bytes(row[3]), row[2], row[0])

    def list_at(self, prefix: str, revision: int, limit: int, start_after: str) -> tuple[list[KeyValue], int, bool]:
        where, args = _range_sql(prefix)
        if start_after:
            where += " AND name > ?"
            args.append(start_after)
        # The "bare column" rule: with MAX(id), SQLite takes the other columns - in the result and in
        # HAVING - from that same row. GROUP BY and ORDER BY follow the (name, id) index: no sorting.
        sql = (f"SELECT name, MAX(id), create_revision, value FROM kv WHERE {where} AND id <= ?"
               " GROUP BY name HAVING deleted = 0 ORDER BY name")
        if limit:
            sql += f" LIMIT {int(limit) + 1}"
        with self.conn:
            self.conn.execute("BEGIN")
            rev = self._snapshot(revision)
            rows = self.conn.execute(sql, [*args, rev]).fetchall()
        more = bool(limit) and len(rows) > limit
        if more:
            rows = rows[:limit]
        return [KeyValue(r[0], r[3], r[2], r[1]) for r in rows], rev, more

    def count(self, prefix: str) -> int:
        where, args = _range_sql(prefix)
        row = self.conn.execute(f"SELECT COUNT(*) FROM (SELECT MAX(id) FROM kv WHERE {where}"
                                " GROUP BY name HAVING deleted = 0)", args).fetchone()
        return int(row[0])

    def events_after(self, prefix: str, after: int) -> list[Event]:
        """Every change under ``prefix`` with revision > ``after``, oldest first (a watch's catch-up)."""
        where, args = _range_sql(prefix, "k.name")
        with self.conn:
            self.conn.execute("BEGIN")
            current, compacted = self.revisions()
            if after < compacted:
                raise Gone(f"revision {after} has been compacted (oldest available: {compacted})")
            rows = self.conn.execute(
                "SELECT k.id, k.name, k.deleted, k.create_revision, k.value, p.id, p.create_revision, p.value"
                f" FROM kv AS k LEFT JOIN kv AS p ON p.id = k.prev_revision AND p.deleted = 0"
                f" WHERE k.id > ? AND {where} ORDER BY k.id", [after, *args]).fetchall()
        out = []
        for rid, name, deleted, crev, value, pid, pcrev, pvalue in rows:
            prev = KeyValue(name, bytes(pvalue), pcrev, pid) if pid is not None else None
            out.append(Event("DELETE" if deleted else "PUT", KeyValue(name, bytes(value), crev, rid), prev))
        return out
