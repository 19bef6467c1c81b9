"""The store contract (kubelite/store/contracts.py), proven against every driver.

Each test runs once per driver (the ``store_url`` fixture); everything here is
driver-agnostic, so a new driver passes this file or is not done.
"""

from __future__ import annotations

import asyncio

import pytest

from kubelite.errors import AlreadyExists, Conflict, Gone, Invalid, NotFound
from kubelite.store import Event, KeyValue, Store, Watch
from tests.store.conftest import Runner


async def next_events(w: Watch, n: int, timeout: float = 5) -> list[Event]:
    return [await asyncio.wait_for(w.__anext__(), timeout) for _ in range(n)]


async def assert_quiet(w: Watch, wait: float = 0.2) -> None:
    """No further event arrives within ``wait`` seconds."""
    try:
        ev = await asyncio.wait_for(w.__anext__(), wait)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected event {ev}")


def test_create_get_update_delete(run: Runner, ns: str) -> None:
    async def body(s: Store) -> None:
        k = ns + "pods/default/a"
        kv = await s.create(k, b"v1")
        assert kv.key == k and kv.value == b"v1" and kv.create_revision == kv.mod_revision > 1
        assert await s.get(k) == kv
        with pytest.raises(AlreadyExists):
            await s.create(k, b"again")

        kv2 = await s.update(k, b"v2", kv.mod_revision)
        assert kv2.value == b"v2" and kv2.create_revision == kv.create_revision
        assert kv2.mod_revision > kv.mod_revision
        with pytest.raises(Conflict):
            await s.update(k, b"stale", kv.mod_revision)
        assert (await s.get(k)).value == b"v2"
        kv3 = await s.update(k, b"v3")  # expected_revision=0: whatever the revision
        assert kv3.mod_revision > kv2.mod_revision

        with pytest.raises(Conflict):
            await s.delete(k, kv2.mod_revision)
        gone = await s.delete(k, kv3.mod_revision)
        assert gone.value == b"v3" and gone.create_revision == kv.create_revision
        assert gone.mod_revision > kv3.mod_revision  # the deletion's revision
        assert await s.current_revision() == gone.mod_revision
        for op in (s.get(k), s.update(k, b"x", gone.mod_revision), s.delete(k), s.update(k, b"x")):
            with pytest.raises(NotFound):
                await op

        again = await s.create(k, b"reborn")
        assert again.create_revision == again.mod_revision > gone.mod_revision
        assert (await s.delete(k)).value == b"reborn"  # unconditional delete

    run(body)


def test_not_found_beats_conflict_and_failures_take_no_revision(run: Runner, ns: str) -> None:
    async def body(s: Store) -> None:
        kv = await s.create(ns + "x", b"1")
        before = await s.current_revision()
        with pytest.raises(NotFound):
            await s.update(ns + "missing", b"v", 12345)
        with pytest.raises(NotFound):
            await s.delete(ns + "missing", 12345)
        with pytest.raises(AlreadyExists):
            await s.create(ns + "x", b"2")
        with pytest.raises(Conflict):
            await s.update(ns + "x", b"2", kv.mod_revision + 1000)
        assert await s.current_revision() == before

    run(body)


def test_binary_values_and_unicode_keys(run: Runner, ns: str) -> None:
    async def body(s: Store) -> None:
        value = bytes(range(256)) * 40
        k = ns + "configmaps/ns/ünïcode-名前"
        await s.create(k, value)
        assert (await s.get(k)).value == value
        assert [kv.key for kv in (await s.list(ns)).items] == [k]
        await s.create(ns + "empty", b"")
        assert (await s.get(ns + "empty")).value == b""

    run(body)


def test_revisions_strictly_increase_across_keys(run: Runner, ns: str) -> None:
    async def body(s: Store) -> None:
        revs = []
        for i in range(10):
            kv = await s.create(f"{ns}k{i}", b"x")
            revs.append(kv.mod_revision)
            kv = await s.update(f"{ns}k{i}", b"y", kv.mod_revision)
            revs.append(kv.mod_revision)
        revs.append((await s.delete(f"{ns}k3")).mod_revision)
        assert revs == sorted(set(revs))
        assert revs[-1] == await s.current_revision()

    run(body)


def test_list_by_prefix(run: Runner, ns: str) -> None:
    async def body(s: Store) -> None:
        for k in ("a/2", "a/1", "ab", "a", "b/1", "a/sub/3"):
            await s.create(ns + k, k.encode())
        res = await s.list(ns + "a/")
        assert [kv.key for kv in res.items] == [ns + "a/1", ns + "a/2", ns + "a/sub/3"]
        assert not res.more and res.continue_key == ""
        assert res.revision == await s.current_revision()
        assert await s.count(ns + "a/") == 3
        assert await s.count(ns) == 6
        assert (await s.list(ns + "nothing/")).items == []
        await s.delete(ns + "a/2")
        assert [kv.key for kv in (await s.list(ns + "a/")).items] == [ns + "a/1", ns + "a/sub/3"]
        assert await s.count(ns + "a/") == 2

    run(body)


def test_get_and_list_at_older_revisions(run: Runner, ns: str) -> None:
    async def body(s: Store) -> None:
        a = await s.create(ns + "a", b"a1")
        b = await s.create(ns + "b", b"b1")
        r1 = b.mod_revision
        await s.update(ns + "a", b"a2", a.mod_revision)
        await s.delete(ns + "b")
        await s.create(ns + "c", b"c1")
        old = await s.list(ns, revision=r1)
        assert old.revision == r1
        assert [(kv.key, kv.value) for kv in old.items] == [(ns + "a", b"a1"), (ns + "b", b"b1")]
        now = await s.list(ns)
        assert [(kv.key, kv.value) for kv in now.items] == [(ns + "a", b"a2"), (ns + "c", b"c1")]
        assert (await s.get(ns + "a", revision=r1)).value == b"a1"
        assert (await s.get(ns + "b", revision=r1)).value == b"b1"
        with pytest.raises(NotFound):
            await s.get(ns + "a", revision=a.mod_revision - 1)
        with pytest.raises(Invalid):
            await s.list(ns, revision=now.revision + 1000)
        with pytest.raises(Invalid):
            await s.get(ns + "a", revision=now.revision + 1000)

    run(body)


def test_pagination_is_a_consistent_snapshot_while_writes_go_on(run: Runner, ns: str) -> None:
    async def body(s: Store) -> None:
        for i in range(25):
            await s.create(f"{ns}p/{i:03}", b"orig")
        first = await s.list(ns + "p/", limit=10)
        snapshot = first.revision
        assert first.more and first.continue_key == f"{ns}p/009" and len(first.items) == 10
        pages = [first]
        n = 0
        while pages[-1].more:
            # churn between pages: new keys before and after the cursor, deletes, updates
            await s.create(f"{ns}p/{n:03}x", b"new")
            await s.delete(f"{ns}p/{20 + n:03}")
            kv = await s.get(f"{ns}p/{15 + n:03}")
            await s.update(kv.key, b"changed", kv.mod_revision)
            n += 1
            page = await s.list(ns + "p/", revision=snapshot, limit=10, start_after=pages[-1].continue_key)
            assert page.revision == snapshot
            pages.append(page)
        items = [kv for p in pages for kv in p.items]
        assert [kv.key for kv in items] == [f"{ns}p/{i:03}" for i in range(25)]
        assert {kv.value for kv in items} == {b"orig"}
        assert len(pages) == 3 and len(pages[-1].items) == 5 and pages[-1].continue_key == ""
        # a page size that divides the count exactly ends with more=False, not with an empty page
        exact = await s.list(ns + "p/", revision=snapshot, limit=25)
        assert len(exact.items) == 25 and not exact.more

    run(body)


def test_watch_from_a_revision_sees_exactly_the_later_events(run: Runner, ns: str) -> None:
    async def body(s: Store) -> None:
        a = await s.create(ns + "w/a", b"1")
        await s.create(ns + "other", b"not watched")
        a2 = await s.update(ns + "w/a", b"2", a.mod_revision)
        b = await s.create(ns + "w/b", b"b")
        d = await s.delete(ns + "w/a", a2.mod_revision)
        w = await s.watch(ns + "w/", a.mod_revision)  # strictly after a's creation
        async with w:
            evs = await next_events(w, 3)
            assert [(e.type, e.kv.key, e.revision) for e in evs] == [
                ("PUT", ns + "w/a", a2.mod_revision), ("PUT", ns + "w/b", b.mod_revision),
                ("DELETE", ns + "w/a", d.mod_revision)]
            assert evs[0].kv == a2 and evs[0].prev_kv == a
            assert evs[1].kv == b and evs[1].prev_kv is None
            assert evs[2].kv == d and evs[2].prev_kv == a2  # a delete carries the deleted value
            # live events continue the same stream, in order
            c = await s.create(ns + "w/c", b"c")
            await s.create(ns + "wx", b"outside the prefix")
            c2 = await s.update(ns + "w/c", b"c2", c.mod_revision)
            evs = await next_events(w, 2)
            assert [e.kv for e in evs] == [c, c2] and evs[1].prev_kv == c
            await assert_quiet(w)

    run(body)


def test_watch_from_now_and_list_then_watch(run: Runner, ns: str) -> None:
    async def body(s: Store) -> None:
        await s.create(ns + "x", b"before")
        w = await s.watch(ns)  # revision 0: from now on
        listed = await s.list(ns)
        w2 = await s.watch(ns, listed.revision)  # the list-then-watch pattern of every informer
        kv = await s.create(ns + "y", b"after")
        for watch in (w, w2):
            ev = (await next_events(watch, 1))[0]
            assert ev.kv == kv and ev.type == "PUT"
            await assert_quiet(watch, 0.1)
            await watch.aclose()
        with pytest.raises(StopAsyncIteration):
            await w.__anext__()

    run(body)


def test_many_watchers_each_see_their_prefix(run: Runner, ns: str) -> None:
    async def body(s: Store) -> None:
        start = await s.current_revision()
        watches = [await s.watch(f"{ns}{i % 3}/", start) for i in range(12)]
        everything = await s.watch(ns, start)
        written: dict[int, list[KeyValue]] = {0: [], 1: [], 2: []}
        for j in range(30):
            written[j % 3].append(await s.create(f"{ns}{j % 3}/{j}", str(j).encode()))
        for i, w in enumerate(watches):
            assert [e.kv for e in await next_events(w, 10)] == written[i % 3]
        all_evs = await next_events(everything, 30)
        assert [e.revision for e in all_evs] == sorted(kv.mod_revision for kvs in written.values() for kv in kvs)
        for w in [*watches, everything]:
            await w.aclose()

    run(body)


def test_compaction(run: Runner, ns: str) -> None:
    async def body(s: Store) -> None:
        a = await s.create(ns + "a", b"1")
        gone_key = await s.create(ns + "gone", b"x")
        for i in range(5):
            a = await s.update(ns + "a", f"{i}".encode(), a.mod_revision)
        await s.delete(ns + "gone", gone_key.mod_revision)
        c = await s.current_revision()
        later = await s.update(ns + "a", b"later", a.mod_revision)
        await s.compact(c)
        for op in (s.list(ns, revision=c - 1), s.get(ns + "a", revision=c - 1), s.watch(ns, c - 1),
                   s.watch(ns, gone_key.mod_revision)):
            with pytest.raises(Gone):
                await op
        # the compacted revision itself is still readable and watchable
        at_c = await s.list(ns, revision=c)
        assert [(kv.key, kv.value) for kv in at_c.items] == [(ns + "a", b"4")]
        async with await s.watch(ns, c) as w:
            ev = (await next_events(w, 1))[0]
            assert ev.kv == later and ev.prev_kv == a
        assert (await s.get(ns + "a")).value == b"later"
        await s.compact(c - 2)  # older than the compacted revision: a no-op
        with pytest.raises(Invalid):
            await s.compact(later.mod_revision + 1000)

    run(body)


def test_concurrent_creates_of_one_key_exactly_one_wins(run: Runner, ns: str) -> None:
    async def body(s: Store) -> None:
        results = await asyncio.gather(*(s.create(ns + "race", str(i).encode()) for i in range(50)),
                                       return_exceptions=True)
        won = [r for r in results if isinstance(r, KeyValue)]
        assert len(won) == 1
        assert all(isinstance(r, AlreadyExists) for r in results if not isinstance(r, KeyValue))
        assert await s.get(ns + "race") == won[0]
        # the same for 50 updates racing from one revision
        results = await asyncio.gather(*(s.update(ns + "race", b"u", won[0].mod_revision) for _ in range(50)),
                                       return_exceptions=True)
        assert sum(isinstance(r, KeyValue) for r in results) == 1
        assert sum(isinstance(r, Conflict) for r in results) == 49

    run(body)


def test_concurrent_writers_and_a_watcher_agree(run: Runner, ns: str) -> None:
    async def body(s: Store) -> None:
        w = await s.watch(ns)

        async def writer(i: int) -> list[int]:
            kv = await s.create(f"{ns}{i}", b"0")
            revs = [kv.mod_revision]
            for j in range(5):
                kv = await s.update(kv.key, str(j).encode(), kv.mod_revision)
                revs.append(kv.mod_revision)
            return revs

        revs = sorted(r for rs in await asyncio.gather(*(writer(i) for i in range(20))) for r in rs)
        assert len(set(revs)) == 120
        assert [e.revision for e in await next_events(w, 120)] == revs
        await w.aclose()

    run(body)


def test_watch_from_the_past_while_writes_are_in_flight(run: Runner, ns: str) -> None:
    async def body(s: Store) -> None:
        start = await s.current_revision()
        done = asyncio.Event()

        async def writer() -> list[int]:
            revs = []
            for i in range(60):
                revs.append((await s.create(f"{ns}{i}", b"x")).mod_revision)
                if i == 20:
                    done.set()
            return revs

        task = asyncio.create_task(writer())
        await done.wait()
        async with await s.watch(ns, start) as w:  # catch-up from history, then live, with writes racing
            revs = await task
            assert [e.revision for e in await next_events(w, 60)] == revs
            await assert_quiet(w, 0.1)

    run(body)
