"""The asyncio API client and informer against a real server (SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from kubelite.api.client import APIClient, resource_path
from kubelite.api.informer import Informer
from kubelite.errors import AlreadyExists, Conflict, NotFound
from tests.api.conftest import Cluster, start_cluster, stop_cluster


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = start_cluster(tmp_path_factory.mktemp("client") / "data")
    try:
        yield c
    finally:
        stop_cluster(c)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_crud_errors_and_informer(server: Cluster) -> None:
    async def go() -> None:
        client = APIClient.from_kubeconfig(server.kubeconfig)
        cms = resource_path("v1", "configmaps", "default")
        try:
            inf = Informer(client, cms)
            seen: list[tuple[str, str]] = []
            inf.add_handler(lambda t, o, old: seen.append((t, o["metadata"]["name"])))
            await inf.start()
            made = await client.create(cms, {"metadata": {"name": "c1"}, "data": {"a": "1"}})
            with pytest.raises(AlreadyExists):
                await client.create(cms, {"metadata": {"name": "c1"}})
            stale = dict(made, data={"a": "2"})
            await client.patch(f"{cms}/c1", {"data": {"a": "3"}})
            with pytest.raises(Conflict):
                await client.replace(f"{cms}/c1", stale)
            with pytest.raises(NotFound):
                await client.get(f"{cms}/nope")
            await client.delete(f"{cms}/c1")
            for _ in range(100):
                if ("DELETED", "c1") in seen:
                    break
                await asyncio.sleep(0.05)
            assert [e for e in seen if e[1] == "c1"] == [("ADDED", "c1"), ("MODIFIED", "c1"), ("DELETED", "c1")]
            assert inf.get("default/c1") is None
            await inf.stop()
        finally:
            await client.close()

    run(go())
