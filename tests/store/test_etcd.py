"""What only the etcd driver has to get right: endpoints that are down, and etcd's own quirks."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from kubelite.errors import Unavailable
from kubelite.store import Store, open_store
from tests.etcd_server import EtcdServer, free_port
from tests.store.conftest import run_with


def test_fails_over_to_an_endpoint_that_is_up(etcd_endpoint: str, ns: str) -> None:
    dead = f"127.0.0.1:{free_port()}"

    async def body(s: Store) -> None:
        kv = await s.create(ns + "a", b"1")
        assert (await s.get(ns + "a")) == kv
        async with await s.watch(ns) as w:
            await s.update(ns + "a", b"2")
            assert (await asyncio.wait_for(w.__anext__(), 5)).kv.value == b"2"

    run_with(f"etcd://{dead},{etcd_endpoint}?compact_interval=0", body)


def test_no_endpoint_up_is_unavailable() -> None:
    async def main() -> None:
        with pytest.raises(Unavailable, match="no etcd endpoint answered"):
            await open_store(f"etcd://127.0.0.1:{free_port()},127.0.0.1:{free_port()}?timeout=2")

    asyncio.run(main())


def test_watch_from_a_future_revision_waits_for_it(etcd_endpoint: str, ns: str) -> None:
    async def body(s: Store) -> None:
        now = await s.current_revision()
        async with await s.watch(ns, now + 2) as w:
            await s.create(ns + "a", b"1")  # now + 1: before the watch's start
            await s.create(ns + "b", b"2")  # now + 2: still not after it
            kv = await s.create(ns + "c", b"3")
            assert (await asyncio.wait_for(w.__anext__(), 5)).kv == kv

    run_with(f"etcd://{etcd_endpoint}?compact_interval=0", body)


def test_a_watch_survives_an_etcd_restart(ns: str) -> None:
    if shutil.which("etcd") is None:
        pytest.skip("etcd is not installed")
    with EtcdServer() as server:

        async def body(s: Store) -> None:
            before = await s.create(ns + "a", b"1")
            async with await s.watch(ns, before.mod_revision) as w:
                server.kill()
                server.start()  # blocks the loop: give it a moment to see the old connections closed
                await asyncio.sleep(0.2)
                kv = await s.update(ns + "a", b"2", before.mod_revision)
                ev = await asyncio.wait_for(w.__anext__(), 10)
                assert ev.kv == kv and ev.prev_kv == before

        run_with(f"etcd://{server.endpoint}?compact_interval=0", body)
