"""What only the sqlite driver promises: durability across kill -9, one owner, bounded watch queues, compaction."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kubelite.errors import NotFound, Unavailable
from kubelite.store import Store, WatchTooSlow, open_store
from kubelite.store.sqlite import SqliteStore
from tests.store.conftest import run_with

REPO = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent("""
    import asyncio, sys
    from kubelite.store import open_store

    async def writer(store, w):
        i = 0
        while True:
            kv = await store.create(f"/durable/{w}/{i}", f"{w}-{i}".encode())
            print(kv.key, kv.mod_revision, flush=True)
            i += 1

    async def main():
        store = await open_store(sys.argv[1])
        await asyncio.gather(*(writer(store, w) for w in range(8)))

    asyncio.run(main())
""")


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/state.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.stdout is not None
    acked = []
    try:
        for line in proc.stdout:
            acked.append(line.split())
            if len(acked) >= 400:
                break
        os.kill(proc.pid, signal.SIGKILL)
        acked += [line.split() for line in proc.stdout]  # everything printed before it died was acknowledged
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and len(acked) >= 400

    async def check(s: Store) -> None:
        for key, rev in acked:
            kv = await s.get(key)
            assert kv.mod_revision == int(rev) and kv.value == key.split("/", 2)[2].replace("/", "-").encode()
        assert await s.current_revision() >= max(int(r) for _, r in acked)

    run_with(url, check)  # reopening also proves the kill released the lock


def test_one_process_owns_the_database(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/state.db"

    async def body(s: Store) -> None:
        with pytest.raises(Unavailable, match="in use"):
            await open_store(url)

    run_with(url, body)
    run_with(url, body)  # closing released it


def test_a_slow_watcher_is_dropped_not_waited_for(tmp_path: Path) -> None:
    async def body(s: Store) -> None:
        slow = await s.watch("/x/")
        fast = await s.watch("/x/")
        seen = []

        async def consume() -> None:
            async for ev in fast:
                seen.append(ev.revision)
                if len(seen) == 50:
                    return

        task = asyncio.create_task(consume())
        for i in range(50):
            await s.create(f"/x/{i}", b"v")  # writers never wait for the slow watcher
        await asyncio.wait_for(task, 5)
        with pytest.raises(WatchTooSlow):
            async for _ in slow:
                pass
        assert isinstance(s, SqliteStore) and s.watchers == 1
        await fast.aclose()
        assert s.watchers == 0

    run_with(f"sqlite://{tmp_path}/state.db?watch_queue=10&compact_interval=0", body)


def test_closing_the_store_ends_watches(tmp_path: Path) -> None:
    async def main() -> None:
        s = await open_store(f"sqlite://{tmp_path}/state.db")
        w = await s.watch("/")
        await s.create("/a", b"1")
        await s.close()
        assert [ev.kv.key async for ev in w] == ["/a"]  # what it held, then the end

    asyncio.run(main())


def rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM kv").fetchone()[0])


def test_compaction_deletes_history_and_keeps_the_present(tmp_path: Path) -> None:
    db = tmp_path / "state.db"

    async def body(s: Store) -> None:
        for i in range(30):
            await s.create(f"/k/{i}", b"0")
        for round_ in range(1, 50):
            for i in range(30):
                await s.update(f"/k/{i}", str(round_).encode())
        for i in range(10):
            await s.delete(f"/k/{i}")
        assert rows(db) == 30 * 50 + 10
        await s.compact(await s.current_revision())
        assert rows(db) == 20  # one row per live key; tombstones and old versions are gone
        assert {kv.value for kv in (await s.list("/k/")).items} == {b"49"}
        assert await s.count("/k/") == 20

    run_with(f"sqlite://{db}?compact_interval=0", body, timeout=60)


def test_automatic_compaction_bounds_the_history(tmp_path: Path) -> None:
    db = tmp_path / "state.db"

    async def body(s: Store) -> None:
        await s.create("/hot", b"0")
        for i in range(300):
            await s.update("/hot", str(i).encode())
        await asyncio.sleep(0.6)  # a few compaction intervals
        assert rows(db) <= 51  # keep=50 revisions of history (+ the live row)
        assert (await s.get("/hot")).value == b"299"

    run_with(f"sqlite://{db}?compact_interval=0.1&retention=0&keep=50", body)


def test_the_revision_survives_compacting_everything(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/state.db?compact_interval=0"

    async def first(s: Store) -> None:
        kv = await s.create("/a", b"1")
        await s.delete("/a", kv.mod_revision)
        await s.compact(await s.current_revision())

    async def second(s: Store) -> None:
        assert await s.current_revision() == 3
        assert (await s.create("/b", b"2")).mod_revision == 4

    run_with(url, first)
    assert rows(tmp_path / "state.db") == 0
    run_with(url, second)


def test_gets_of_recent_writes_come_from_memory_and_stay_exact(tmp_path: Path) -> None:
    async def body(s: Store) -> None:
        assert isinstance(s, SqliteStore)
        s.latest.max_bytes = 64  # a few values: eviction happens below
        a = await s.create("/m/a", b"a" * 30)
        got = await s.get("/m/a")
        assert got == a and len(s.latest) == 1  # served from memory: the write's own KeyValue
        b = await s.update("/m/a", b"b" * 30, expected_revision=a.mod_revision)
        assert await s.get("/m/a") == b
        assert (await s.get("/m/a", revision=a.mod_revision)).value == b"a" * 30  # history is the database's
        for i in range(5):  # push /m/a out of the memory bound
            await s.create(f"/m/other{i}", b"x" * 30)
        assert s.latest.get("/m/a") is None and len(s.latest) == 2
        assert await s.get("/m/a") == b  # the database answers for what memory dropped
        await s.delete("/m/other4")
        with pytest.raises(NotFound):
            await s.get("/m/other4")

    run_with(f"sqlite://{tmp_path}/state.db?compact_interval=0", body)
