"""Requests of the parts hosted in the API server's process, handed to its handlers without HTTP.

They must see what an HTTP client sees (the same answers, the same Status on
errors, the same authentication and authorization), go in process for the plain
calls only, survive their caller giving up as an HTTP request does, and be refused
once the server has stopped.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kubelite.api.client import APIClient, resource_path
from kubelite.api.security.tokens import TokenFile
from kubelite.api.server import APIServer, ServerConfig
from kubelite.errors import AlreadyExists, Invalid, NotFound, Unauthorized, Unavailable
from tests.api.conftest import free_port

CMS = resource_path("v1", "configmaps", "default")


def cm(name: str, **data: str) -> dict:  # type: ignore[type-arg]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def started(tmp_path: Path) -> APIServer:
    srv = APIServer(ServerConfig(data_dir=tmp_path / "data", port=free_port(), bind_address="127.0.0.1"))
    await srv.start()
    return srv


def test_plain_calls_go_in_process_and_answer_as_over_http(tmp_path: Path) -> None:
    async def run() -> None:
        srv = await started(tmp_path)
        local = srv.local_client("test")
        assert srv.local_socket is not None
        http = APIClient.over_socket(srv.local_socket, srv._loopback_token)
        clients = [local, http]
        try:
            await http.create(CMS, cm("over-http", a="1"))
            # An invalid object and a duplicate: the same Status both ways.
            errors = []
            for client in (http, local):
                with pytest.raises(Invalid) as bad:
                    await client.create(CMS, cm("Not_A_Name"))
                with pytest.raises(AlreadyExists) as dup:
                    await client.create(CMS, cm("over-http"))
                with pytest.raises(Invalid) as big:  # a body over the server's limit
                    await client.create(CMS, cm("too-big", a="x" * (5 * 1024 * 1024)))
                errors.append((bad.value.status, dup.value.status, big.value.status))  # type: ignore[attr-defined]
            assert errors[0] == errors[1]
            assert [e["code"] for e in errors[1]] == [422, 409, 413]
            # Discovery, the roots included, answers as over HTTP.
            for path in ("/api", "/apis", "/api/v1", "/apis/apps", "/apis/apps/v1"):
                assert await local.get(path) == await http.get(path)
            # A percent-encoded path reaches the handler decoded, as aiohttp hands it over HTTP.
            assert (await local.get(f"{CMS}/over%2Dhttp"))["metadata"]["name"] == "over-http"

            # Without the socket, plain calls and watches still work: they never used it.
            srv.local_socket.unlink()
            await http.close()
            fresh = srv.local_client("test")  # no connection pooled from the calls above
            clients.append(fresh)
            made = await fresh.create(CMS, cm("in-process", a="1"))
            patched = await fresh.patch(f"{CMS}/in-process", {"data": {"b": "2"}}, "merge")
            assert patched["data"] == {"a": "1", "b": "2"}
            assert int(patched["metadata"]["resourceVersion"]) > int(made["metadata"]["resourceVersion"])
            names = [i["metadata"]["name"] for i in (await fresh.list(CMS, labelSelector=""))["items"]]
            assert {"in-process", "over-http"} <= set(names)
            await fresh.delete(f"{CMS}/in-process")
            with pytest.raises(NotFound):
                await fresh.get(f"{CMS}/in-process")
            # Watches too: events in order from the resourceVersion, and the handler ends when the reader goes.
            seen = []
            async for etype, obj in fresh.watch(CMS, made["metadata"]["resourceVersion"]):
                seen.append((etype, obj["metadata"]["name"], obj.get("data")))
                if etype == "DELETED":
                    break
            assert seen == [("MODIFIED", "in-process", {"a": "1", "b": "2"}),
                            ("DELETED", "in-process", {"a": "1", "b": "2"})]
            assert srv.in_process is not None
            for _ in range(100):
                if not srv.in_process._watches:
                    break
                await asyncio.sleep(0.01)
            assert not srv.in_process._watches
            # A watch the handler refuses raises as over HTTP.
            with pytest.raises(Invalid) as e:
                async for _ in fresh.watch(CMS, "not-a-version"):
                    pass
            assert e.value.status["code"] == 400  # type: ignore[attr-defined]
        finally:
            for c in clients:
                await c.close()
            await srv.stop()

    asyncio.run(run())


def test_in_process_calls_are_authenticated_as_over_http(tmp_path: Path) -> None:
    async def run() -> None:
        (tmp_path / "data").mkdir()
        node_token = TokenFile.in_data_dir(tmp_path / "data").ensure_node_token()  # before the server starts
        srv = await started(tmp_path)
        node = srv.local_client("kubelet", node_token)
        wrong = srv.local_client("kubelet", "not-a-token")
        try:
            with pytest.raises(Unauthorized) as e:
                await wrong.list("/api/v1/nodes")
            assert e.value.status["code"] == 401  # type: ignore[attr-defined]
            review = await node.create("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                       {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
            assert "system:nodes" in review["status"]["userInfo"]["groups"]
        finally:
            await node.close()
            await wrong.close()
            await srv.stop()

    asyncio.run(run())


def test_a_caller_that_gives_up_does_not_cancel_the_write_and_a_stopped_server_refuses(tmp_path: Path) -> None:
    async def run() -> None:
        srv = await started(tmp_path)
        local = srv.local_client("test")
        try:
            with pytest.raises(Unavailable):  # gives up at once, before the write is done
                await local.request("POST", CMS, body=cm("abandoned", a="1"), timeout=0)
            for _ in range(100):  # as over HTTP, the handler runs to its end
                try:
                    assert (await local.get(f"{CMS}/abandoned"))["data"] == {"a": "1"}
                    break
                except NotFound:
                    await asyncio.sleep(0.05)
            else:
                pytest.fail("the abandoned create was cancelled")
        finally:
            await srv.stop()
        with pytest.raises(Unavailable):
            await local.get(f"{CMS}/abandoned")
        await local.close()

    asyncio.run(run())
