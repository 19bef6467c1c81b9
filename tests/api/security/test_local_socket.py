"""The API server's local Unix socket: what the parts hosted in its process use instead of TLS on loopback.

Plain HTTP, so the socket itself must be private (root only, in the data dir) and
every request still needs a credential: a token, as on the TLS port. It goes away
with the server.
"""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from kubelite.api.client import APIClient
from kubelite.api.security.tokens import TokenFile
from kubelite.errors import Unauthorized
from tests.api.conftest import start_cluster, stop_cluster


def test_local_socket_is_private_needs_a_token_and_goes_with_the_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    c = start_cluster(data)
    sock = data / "apiserver.sock"
    try:
        mode = sock.stat().st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
        token = TokenFile.in_data_dir(data).ensure_node_token()  # the join token `kubelite server` made

        async def calls() -> None:
            anonymous = APIClient.over_socket(sock)
            wrong = APIClient.over_socket(sock, token="not-a-token")
            node = APIClient.over_socket(sock, token=token)
            try:
                for client in (anonymous, wrong):
                    with pytest.raises(Unauthorized) as e:
                        await client.list("/api/v1/nodes")
                    assert e.value.status["code"] == 401
                assert (await node.list("/api/v1/nodes"))["kind"] == "NodeList"
                review = await node.create("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                           {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
                assert "system:nodes" in review["status"]["userInfo"]["groups"]
            finally:
                for client in (anonymous, wrong, node):
                    await client.close()

        asyncio.run(calls())
    finally:
        stop_cluster(c)
    assert not sock.exists()
