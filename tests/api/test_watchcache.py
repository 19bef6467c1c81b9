"""The watch cache and the namespace cache, on a real store (SQLite and etcd), through Storage and watch_events.

These are what a watch request streams (``handlers.watch`` writes each batch
as it comes) and what every namespaced create checks, so the assertions are on
what a client would see: every event once, in order, from any resourceVersion,
however many watchers and however far behind; 404 in a deleted namespace.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path

import pytest

from kubelite.api.errors import ResourceForbidden, ResourceNotFound
from kubelite.api.registry import REGISTRY
from kubelite.api.registry.base import Obj, Strategy
from kubelite.api.storage import Selection, Storage
from kubelite.api.watch import WatchEvent, watch_events
from kubelite.api.watchcache import Cacher, CacheWatcher, Entry
from kubelite.store import Store, open_store
from kubelite.store.contracts import KeyValue
from tests.etcd_server import wipe


def _kind(plural: str) -> Strategy:
    s = REGISTRY.lookup("", "v1", plural)
    assert s is not None
    return s


CM, NS = _kind("configmaps"), _kind("namespaces")


@pytest.fixture(params=["sqlite", "etcd"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/state.db?compact_interval=0"
    endpoint = str(request.getfixturevalue("etcd_endpoint"))
    wipe(endpoint)
    return f"etcd://{endpoint}?compact_interval=0"


def run(url: str, body: Callable[[Storage], Awaitable[None]]) -> None:
    async def main() -> None:
        store: Store = await open_store(url)
        storage = Storage(store)
        try:
            await storage.create(NS, "", {"metadata": {"name": "a"}})
            await storage.create(NS, "", {"metadata": {"name": "b"}})
            await body(storage)
        finally:
            await storage.close()
            await store.close()

    asyncio.run(main())


class Watcher:
    """One watch request's stream, collected as (type, name, resourceVersion) and the JSON lines sent."""

    def __init__(self, storage: Storage, ns: str, rv: str, stop: asyncio.Event,
                 sel: Selection | None = None) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self.lines: list[bytes] = []
        self.gen: AsyncGenerator[list[WatchEvent], None] = watch_events(
            storage, CM, ns, sel or Selection(), rv, 60, False, stop)
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for batch in self.gen:
            for ev in batch:
                line = ev.line() or json.dumps({"type": ev.type, "object": ev.object}).encode()
                self.lines.append(line)
                obj = json.loads(line)["object"]
                meta = obj.get("metadata") or {}
                self.seen.append((ev.type, meta.get("name", ""), meta.get("resourceVersion", "")))

    async def until(self, n: int) -> None:
        for _ in range(2000):
            if len(self.seen) >= n:
                return
            await asyncio.sleep(0.005)
        raise AssertionError(f"saw {len(self.seen)} events, waited for {n}: {self.seen}")


async def _write(storage: Storage, ns: str, names: list[str]) -> list[str]:
    rvs = []
    for name in names:
        obj = await storage.create(CM, ns, {"metadata": {"name": name}, "data": {"k": "é"}})
        rvs.append(obj["metadata"]["resourceVersion"])
    return rvs


def test_many_watchers_share_one_cache_and_see_every_event_once(store_url: str) -> None:
    async def body(storage: Storage) -> None:
        stop = asyncio.Event()
        start = str((await storage.list(CM, "", Selection())).revision)
        everywhere = [Watcher(storage, "", start, stop) for _ in range(20)]
        in_a = [Watcher(storage, "a", start, stop) for _ in range(5)]
        await asyncio.sleep(0.05)
        rvs_a = await _write(storage, "a", [f"x{i}" for i in range(30)])
        rvs_b = await _write(storage, "b", [f"y{i}" for i in range(10)])
        await storage.update(CM, "a", "x0", lambda o: {**o, "data": {"k": "changed"}})
        await storage.delete(CM, "a", "x1")
        for w in everywhere:
            await w.until(42)
        for w in in_a:
            await w.until(32)
        expected_a = [("ADDED", f"x{i}", rv) for i, rv in enumerate(rvs_a)]
        for w in everywhere:
            assert w.seen[:40] == expected_a + [("ADDED", f"y{i}", rv) for i, rv in enumerate(rvs_b)]
            assert [t for t, _, _ in w.seen[40:]] == ["MODIFIED", "DELETED"]
        for w in in_a:
            assert w.seen[:30] == expected_a and [t for t, _, _ in w.seen[30:]] == ["MODIFIED", "DELETED"]
        # one store watch for all 25, and the event lines are the same bytes for everyone
        cachers = storage.watch_cache._cachers
        assert list(cachers) == ["/registry/configmaps/"]
        assert all(isinstance(w, CacheWatcher) for w in cachers["/registry/configmaps/"].watchers)
        assert everywhere[0].lines[0] is everywhere[7].lines[0]
        # the line is the object as a GET returns it
        got = await storage.get(CM, "a", "x2")
        assert json.loads(everywhere[3].lines[2]) == {"type": "ADDED", "object": got}
        stop.set()
        await asyncio.gather(*(w.task for w in everywhere + in_a))
        assert not cachers["/registry/configmaps/"].watchers  # closed watchers leave the cache

    run(store_url, body)


def test_watch_from_before_the_cache_and_without_resource_version(store_url: str) -> None:
    async def body(storage: Storage) -> None:
        stop = asyncio.Event()
        early = (await storage.list(CM, "", Selection())).revision
        rvs = await _write(storage, "a", ["p", "q"])
        first = Watcher(storage, "a", rvs[-1], stop)  # starts the cache at q's revision
        await _write(storage, "a", ["r"])
        await first.until(1)
        old = Watcher(storage, "a", str(early), stop)  # older than the cache: straight from the store
        fresh = Watcher(storage, "a", "", stop)  # no resourceVersion: the current objects as ADDED, then changes
        await old.until(3)
        await fresh.until(3)
        await _write(storage, "a", ["s"])
        for w in (first, old, fresh):
            await w.until({first: 2, old: 4, fresh: 4}[w])
        assert [n for _, n, _ in old.seen] == ["p", "q", "r", "s"]
        assert [n for _, n, _ in fresh.seen] == ["p", "q", "r", "s"]
        assert [n for _, n, _ in first.seen] == ["r", "s"]
        stop.set()
        await asyncio.gather(first.task, old.task, fresh.task)

    run(store_url, body)


def test_a_watcher_left_behind_by_the_ring_continues_from_the_store(store_url: str) -> None:
    async def body(storage: Storage) -> None:
        storage.watch_cache.capacity = 4  # the ring keeps 4..8 events
        stop = asyncio.Event()
        start = str((await storage.list(CM, "", Selection())).revision)
        fast = Watcher(storage, "", start, stop)
        await fast.until(0)
        # a watcher that never reads while 20 writes go by: its place in the ring is gone
        slow_gen = watch_events(storage, CM, "", Selection(), start, 60, False, stop)
        first = asyncio.create_task(slow_gen.__anext__())
        await asyncio.sleep(0.05)
        names = [f"n{i}" for i in range(20)]
        await _write(storage, "a", names)
        await fast.until(20)
        seen = [ev.object["metadata"]["name"] for ev in await first]
        while len(seen) < 20:
            seen += [ev.object["metadata"]["name"] for ev in await slow_gen.__anext__()]
        assert seen == names
        assert storage.watch_cache._cachers["/registry/configmaps/"].base > 1  # the ring did move past it
        assert [n for _, n, _ in fast.seen] == names
        stop.set()
        await slow_gen.aclose()
        await fast.task

    run(store_url, body)


def test_selectors_report_transitions(store_url: str) -> None:
    async def body(storage: Storage) -> None:
        stop = asyncio.Event()
        start = str((await storage.list(CM, "", Selection())).revision)
        w = Watcher(storage, "a", start, stop, Selection.parse(CM, "app=web", ""))
        plain = Watcher(storage, "a", start, stop)
        await asyncio.sleep(0.05)
        await storage.create(CM, "a", {"metadata": {"name": "c", "labels": {"app": "db"}}})
        def relabel(app: str) -> Callable[[Obj], Obj]:
            return lambda o: {**o, "metadata": {**o["metadata"], "labels": {"app": app}}}

        await storage.update(CM, "a", "c", relabel("web"))
        await storage.update(CM, "a", "c", relabel("web2"))
        await storage.update(CM, "a", "c", relabel("web"))
        await storage.delete(CM, "a", "c")
        await w.until(4)
        await plain.until(5)
        assert [t for t, _, _ in w.seen] == ["ADDED", "DELETED", "ADDED", "DELETED"]
        assert [t for t, _, _ in plain.seen] == ["ADDED", "MODIFIED", "MODIFIED", "MODIFIED", "DELETED"]
        stop.set()
        await asyncio.gather(w.task, plain.task)

    run(store_url, body)


def finalized(ns: Obj) -> Obj:
    """The body of a ``finalize`` that lifts every spec finalizer (the namespace controller's last step)."""
    return {**ns, "spec": {"finalizers": []}}


def test_namespace_existence(store_url: str) -> None:
    async def body(storage: Storage) -> None:
        await storage.create(CM, "a", {"metadata": {"name": "one"}})
        with pytest.raises(ResourceNotFound, match='namespaces "nope" not found'):
            await storage.create(CM, "nope", {"metadata": {"name": "one"}})
        # deleted here: Terminating, so creates are refused at once; finalized (gone): not found
        await storage.delete(NS, "", "b")
        with pytest.raises(ResourceForbidden, match="unable to create new content in namespace b because it is "
                                                    "being terminated"):
            await storage.create(CM, "b", {"metadata": {"name": "one"}})
        await storage.update(NS, "", "b", finalized, "finalize")
        with pytest.raises(ResourceNotFound, match='namespaces "b" not found'):
            await storage.create(CM, "b", {"metadata": {"name": "one"}})
        # another server on the same store (a second Storage): its new namespace is found at once,
        # its deletion (Terminating, then gone) once the watch has told us
        other = Storage(storage.store)
        try:
            await other.create(NS, "", {"metadata": {"name": "c"}})
            await storage.create(CM, "c", {"metadata": {"name": "one"}})
            await other.delete(NS, "", "c")
            for _ in range(1000):
                if storage.namespaces._live.get("c", (0, ""))[1] == "Terminating":
                    break
                await asyncio.sleep(0.005)
            with pytest.raises(ResourceForbidden, match="being terminated"):
                await storage.create(CM, "c", {"metadata": {"name": "two"}})
            await other.update(NS, "", "c", finalized, "finalize")
            for _ in range(1000):
                if "c" not in storage.namespaces._live:
                    break
                await asyncio.sleep(0.005)
            with pytest.raises(ResourceNotFound, match='namespaces "c" not found'):
                await storage.create(CM, "c", {"metadata": {"name": "two"}})
        finally:
            await other.close()

    run(store_url, body)


def test_store_source_reports_compaction_as_gone(store_url: str) -> None:
    async def body(storage: Storage) -> None:
        stop = asyncio.Event()
        await _write(storage, "a", ["p", "q", "r"])
        await storage.store.compact(await storage.store.current_revision())
        w = Watcher(storage, "a", "2", stop)
        await w.task  # the stream ends after its one ERROR event
        assert len(w.lines) == 1
        ev = json.loads(w.lines[0])
        assert ev["type"] == "ERROR" and ev["object"]["code"] == 410 and ev["object"]["reason"] == "Expired"

    run(store_url, body)


def test_an_entry_takes_its_previous_version_from_the_entry_before_it() -> None:
    """A selector watch reads both versions of each change; the older one is the ring's previous entry's
    object, decoded once, whether that was decoded before or after the change came. Links go forward only."""
    def kv(rev: int, label: str) -> KeyValue:
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"v": label}}})
        return KeyValue("/registry/configmaps/a/c", body.encode(), 2, rev)

    cacher = Cacher(None, "/registry/configmaps/", 1, capacity=2)  # type: ignore[arg-type]
    first = Entry("PUT", kv(2, "one"), None)
    second = Entry("PUT", kv(3, "two"), kv(2, "one"))
    cacher._append(first)
    cacher._append(second)
    third = Entry("PUT", kv(4, "three"), kv(3, "two"))
    one = first.obj()  # decoded after its successor came
    assert second.prev() is one and one["metadata"]["labels"] == {"v": "one"}
    two = second.obj()
    cacher._append(third)  # decoded before its successor came
    assert third.prev() is two and two["metadata"]["labels"] == {"v": "two"}
    unrelated = Entry("PUT", kv(6, "six"), kv(5, "five"))  # its previous version is not in the ring
    cacher._append(unrelated)
    assert unrelated.prev()["metadata"]["labels"] == {"v": "five"}
    assert cacher._latest == {"/registry/configmaps/a/c": unrelated} and len(cacher.entries) == 2
