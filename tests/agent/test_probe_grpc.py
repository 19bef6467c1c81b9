"""gRPC probes against a real gRPC server (etcd serves grpc.health.v1) in a pod's network namespace,
and the HPACK decoder against the examples of RFC 7541."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubelite.agent.probes.hpack import Decoder, HPACKError, encode, huffman_decode
from kubelite.agent.probes.prober import FAILURE, SUCCESS, UNKNOWN, ProbeTarget, run_probe
from kubelite.agent.probes.worker import ProbeWorker
from kubelite.agent.sandbox import SandboxManager
from tests.agent.probes_rig import eventually, run


def test_hpack_decodes_the_rfc_examples() -> None:
    # RFC 7541 C.4 (requests, Huffman-coded, one dynamic table across them) and C.6.1 (a response).
    d = Decoder()
    assert d.decode(bytes.fromhex("828684418cf1e3c2e5f23a6ba0ab90f4ff")) == [
        (":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")]
    assert d.decode(bytes.fromhex("828684be5886a8eb10649cbf"))[-2:] == [
        (":authority", "www.example.com"), ("cache-control", "no-cache")]
    assert d.decode(bytes.fromhex("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf")) == [
        (":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"),
        ("custom-key", "custom-value")]
    r = Decoder(256)
    assert r.decode(bytes.fromhex("488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29"
                                  "ad171863c78f0b97c8e9ae82ae43d3")) == [
        (":status", "302"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com")]
    assert Decoder().decode(encode([("grpc-status", "0"), ("x", "y" * 300)])) == [
        ("grpc-status", "0"), ("x", "y" * 300)]
    assert huffman_decode(bytes.fromhex("9d29ad171863c78f0b97c8e9ae82ae43d3")) == b"https://www.example.com"
    with pytest.raises(HPACKError):
        Decoder().decode(b"\xff")  # an index that never ends
    with pytest.raises(HPACKError):
        huffman_decode(b"\xff\xff\xff\xff")  # EOS


@pytest.fixture
def etcd_in_pod(tmp_path: Path) -> Iterator[str]:
    """The netns of a pod whose only server is an etcd on 127.0.0.1:2379."""
    if shutil.which("etcd") is None:
        pytest.skip("etcd is not installed")
    sandboxes = SandboxManager(tmp_path / "sandboxes")
    sb = sandboxes.ensure("grpc-pod", "grpc-pod", "127.0.0.1 localhost\n")
    client, peer = "http://127.0.0.1:2379", "http://127.0.0.1:2380"
    # nsenter execs etcd itself for a network namespace: the pid is etcd's.
    proc = subprocess.Popen(["nsenter", f"--net={sb.netns}", "etcd", "--data-dir", str(tmp_path / "etcd"),
                             "--listen-client-urls", client, "--advertise-client-urls", client,
                             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                             "--initial-cluster", f"default={peer}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield sb.netns
    finally:
        proc.terminate()
        proc.wait(30)
        sandboxes.remove("grpc-pod")


@pytest.mark.root
def test_grpc_probe_against_a_real_health_server(etcd_in_pod: str) -> None:
    t = ProbeTarget(etcd_in_pod)
    results: list[tuple[str, str, str, str]] = []

    async def scenario() -> None:
        # A readiness worker turns ready once etcd answers SERVING: that is the first verdict it can reach.
        w = ProbeWorker("readiness", "etcd", {"grpc": {"port": 2379}, "periodSeconds": 1}, t,
                        lambda *r: results.append(r)).start()
        await eventually("etcd to serve", lambda: bool(results), timeout=60)
        w.stop()
        await w.wait()
        assert results == [("readiness", "etcd", SUCCESS, "service healthy")]
        r = await run_probe({"grpc": {"port": 2379, "service": "no.such.Service"}}, t)
        assert (r.result, r.message) == (
            FAILURE, "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service")
        r = await run_probe({"grpc": {"port": 2390}, "timeoutSeconds": 2}, t)
        assert (r.result, r.message) == (FAILURE, 'timeout: failed to connect service "127.0.0.1:2390" within 2s: '
                                                  "dial tcp 127.0.0.1:2390: connect: connection refused")
        assert (await run_probe({"grpc": {"port": "grpc"}}, t)).result == UNKNOWN
    run(scenario())
