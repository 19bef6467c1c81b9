"""One probe check at a time against real busybox containers in a pod's own network namespace.

Servers listen only on the pod's loopback, so a check that passes proves it
connected from inside the namespace. What is probed is controlled by files in
a shared directory, so each verdict is one the test caused.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubelite.agent.probes.execsync import MAX_OUTPUT, exec_in_container
from kubelite.agent.probes.prober import FAILURE, SUCCESS, UNKNOWN, USER_AGENT, ProbeTarget, run_probe
from kubelite.errors import Conflict, Invalid
from tests.agent.probes_rig import PodRig, http_server, pod_rig, run, silent_listener, tls_context, wait_tcp
from tests.conftest import Env

pytestmark = pytest.mark.root

PORT = 18087  # unusual, so that nothing on the host listens there
WEB = f"exec httpd -f -p {PORT} -h /share"


@pytest.fixture
def rig(kenv: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PodRig]:
    yield from pod_rig(kenv, tmp_path, monkeypatch)


def test_exec_collects_output_and_exit_code(rig: PodRig) -> None:
    rec = rig.run("c", "sleep 100000")
    r = run(exec_in_container(rig.engine, rec, ["sh", "-c", "echo out; echo err >&2; exit 3"], 10))
    assert (r.exit_code, r.timed_out) == (3, False)
    assert sorted(r.output.decode().split()) == ["err", "out"]
    big = run(exec_in_container(rig.engine, rec, ["sh", "-c", "yes | head -c 50000; echo done >&2"], 10))
    assert big.exit_code == 0 and len(big.output) == MAX_OUTPUT


def test_exec_timeout_kills_the_command_and_all_it_started(rig: PodRig) -> None:
    rec = rig.run("c", "sleep 100000")
    r = run(exec_in_container(rig.engine, rec, ["sh", "-c", "sleep 7777 & sleep 8888"], 0.5))
    assert r.timed_out
    ps = run(exec_in_container(rig.engine, rec, ["ps", "-o", "args"], 10)).output.decode()
    assert "sleep 7777" not in ps and "sleep 8888" not in ps
    assert "sleep 100000" in ps


def test_exec_leaves_no_descriptor_or_process_behind(rig: PodRig) -> None:
    rec = rig.run("c", "sleep 100000")

    async def scenario() -> None:
        import asyncio

        before = sorted(os.listdir("/proc/self/fd"))
        await exec_in_container(rig.engine, rec, ["true"], 10)
        await exec_in_container(rig.engine, rec, ["sh", "-c", "exit 2"], 10)
        await exec_in_container(rig.engine, rec, ["sleep", "6666"], 0.2)
        with pytest.raises(TimeoutError):  # the caller gives up: the command goes too
            await asyncio.wait_for(exec_in_container(rig.engine, rec, ["sleep", "5555"], None), 0.5)
        assert sorted(os.listdir("/proc/self/fd")) == before
        ps = (await exec_in_container(rig.engine, rec, ["ps", "-o", "args"], 10)).output.decode()
        assert "sleep 6666" not in ps and "sleep 5555" not in ps
        assert not _zombies()
    run(scenario())


def _zombies() -> list[str]:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                stat = open(f"/proc/{pid}/stat").read()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] == "Z" and int(fields[1]) == os.getpid():
                out.append(pid)
    return out


def test_exec_refuses_bad_input_with_clear_errors(rig: PodRig) -> None:
    rec = rig.run("c", "exit 0")
    rig.engine.wait_exit(rec, 30)
    with pytest.raises(Conflict, match="is not running"):
        run(exec_in_container(rig.engine, rec, ["true"], 1))
    with pytest.raises(Invalid, match="empty"):
        run(exec_in_container(rig.engine, rec, [], 1))


def test_exec_probe_pass_fail_timeout(rig: PodRig) -> None:
    rec = rig.run("c", "sleep 100000")
    t = rig.target(rec)
    assert run(run_probe({"exec": {"command": ["true"]}}, t)).result == SUCCESS
    r = run(run_probe({"exec": {"command": ["sh", "-c", "echo not healthy; exit 1"]}}, t))
    assert (r.result, r.message) == (FAILURE, "not healthy\n")
    r = run(run_probe({"exec": {"command": ["sleep", "30"]}, "timeoutSeconds": 1}, t))
    assert (r.result, r.message) == (FAILURE, 'command "sleep 30" timed out')
    r = run(run_probe({"exec": {"command": []}}, t))
    assert r.result == UNKNOWN


def test_http_probe_status_codes_and_errors(rig: PodRig) -> None:
    (rig.share / "healthz").write_text("fine\n")
    rec = rig.run("web", WEB)
    t = rig.target(rec, {"name": "web", "ports": [{"name": "http", "containerPort": PORT}]})
    run(wait_tcp(t, PORT))
    r = run(run_probe({"httpGet": {"path": "/healthz", "port": PORT}}, t))
    assert (r.result, r.message) == (SUCCESS, "fine\n")
    assert run(run_probe({"httpGet": {"path": "/healthz", "port": "http"}}, t)).result == SUCCESS
    r = run(run_probe({"httpGet": {"path": "/missing", "port": PORT}}, t))
    assert (r.result, r.message) == (FAILURE, "HTTP probe failed with statuscode: 404")
    r = run(run_probe({"httpGet": {"path": "/healthz", "port": 8081}}, t))
    assert r.result == FAILURE
    assert r.message == ('Get "http://127.0.0.1:8081/healthz": dial tcp 127.0.0.1:8081: connect: '
                         "connection refused")
    r = run(run_probe({"httpGet": {"path": "/healthz", "port": "metrics"}}, t))
    assert r.result == UNKNOWN and "metrics" in r.message
    # The same server is not reachable from the host's own loopback: the probe really went into the pod.
    r = run(run_probe({"httpGet": {"path": "/healthz", "port": PORT}}, ProbeTarget("/proc/self/ns/net")))
    assert r.result == FAILURE and "connection refused" in r.message


def test_http_probe_headers_redirects_and_timeout(rig: PodRig) -> None:
    rec = rig.run("c", "sleep 100000")
    t = rig.target(rec)
    seen: list[tuple[str, dict[str, str]]] = []

    def answer(path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if path == "/old":
            return 302, {"Location": "/new"}, b""
        if path == "/loop":
            return 302, {"Location": "/loop"}, b""
        if path == "/away":
            return 301, {"Location": "http://example.invalid/"}, b"gone"
        if path == "/new":
            return 200, {}, b"new"
        return 500, {}, b"broken"

    async def scenario() -> None:
        async with http_server(rig.netns, 9090, answer, seen):
            r = await run_probe({"httpGet": {"path": "/old", "port": 9090,
                                             "httpHeaders": [{"name": "X-Probe", "value": "yes"}]}}, t)
            assert (r.result, r.message, r.warning) == (SUCCESS, "new", False)
            assert [p for p, _ in seen] == ["/old", "/new"]
            assert seen[0][1]["User-Agent"] == USER_AGENT and seen[0][1]["X-Probe"] == "yes"
            r = await run_probe({"httpGet": {"path": "/away", "port": 9090}}, t)
            assert (r.result, r.warning) == (SUCCESS, True)
            assert r.message == "Probe terminated redirects, Response body: gone"
            r = await run_probe({"httpGet": {"path": "/loop", "port": 9090}}, t)
            assert (r.result, r.message) == (FAILURE, 'Get "http://127.0.0.1:9090/loop": stopped after 10 redirects')
            r = await run_probe({"httpGet": {"path": "/x", "port": 9090,
                                             "httpHeaders": [{"name": "User-Agent", "value": "mine"}]}}, t)
            assert (r.result, r.message) == (FAILURE, "HTTP probe failed with statuscode: 500")
            assert seen[-1][1]["User-Agent"] == "mine"
    run(scenario())

    # A server that accepts and never answers: the probe gives up at timeoutSeconds.
    with silent_listener(rig.netns, 9091):
        r = run(run_probe({"httpGet": {"path": "/", "port": 9091}, "timeoutSeconds": 1}, t))
    assert r.result == FAILURE
    assert r.message.startswith('Get "http://127.0.0.1:9091/": context deadline exceeded')


def test_tcp_probe_open_and_closed_port(rig: PodRig) -> None:
    rec = rig.run("c", "exec httpd -f -p 7070")
    t = rig.target(rec, {"name": "c", "ports": [{"name": "svc", "containerPort": 7070}]})
    run(wait_tcp(t, 7070))
    assert run(run_probe({"tcpSocket": {"port": "svc"}}, t)).result == SUCCESS
    r = run(run_probe({"tcpSocket": {"port": 7071}}, t))
    assert (r.result, r.message) == (FAILURE, "dial tcp 127.0.0.1:7071: connect: connection refused")
    r = run(run_probe({"tcpSocket": {"port": 70000}}, t))
    assert (r.result, r.message) == (UNKNOWN, "invalid port number: 70000")
    assert run(run_probe({}, t)).result == UNKNOWN
    assert os.path.exists(rig.netns)


def test_https_probes_are_not_verified_and_tls_errors_are_failures(rig: PodRig, tmp_path: Path) -> None:
    rec = rig.run("c", "sleep 100000")
    t = rig.target(rec)
    seen: list[tuple[str, dict[str, str]]] = []

    async def scenario() -> None:
        async with http_server(rig.netns, 9443, lambda p, h: (200, {}, b"secure"), seen, tls_context(tmp_path)):
            r = await run_probe({"httpGet": {"path": "/", "port": 9443, "scheme": "HTTPS"}}, t)
            assert (r.result, r.message) == (SUCCESS, "secure")
        async with http_server(rig.netns, 9444, lambda p, h: (200, {}, b"plain"), seen):
            r = await run_probe({"httpGet": {"path": "/", "port": 9444, "scheme": "HTTPS"}}, t)
            assert r.result == FAILURE and r.message.startswith('Get "https://127.0.0.1:9444/": ')
    run(scenario())
    assert [p for p, _ in seen] == ["/"]  # the plain server never saw a request it could read


def test_malformed_probes_are_errors_not_crashes(rig: PodRig) -> None:
    rec = rig.run("c", "sleep 100000")
    t = rig.target(rec)
    for bad in ({"exec": {"command": "true"}}, {"exec": "true"}, {"httpGet": {"port": None}},
                {"httpGet": {"port": 80, "scheme": "FTP"}}, {"tcpSocket": {"port": True}}, {"grpc": {"port": "grpc"}}):
        r = run(run_probe(bad, t))
        assert r.result == UNKNOWN and r.message, bad
    r = run(run_probe({"httpGet": {"port": 9445, "httpHeaders": "nope"}, "timeoutSeconds": "soon"}, t))
    assert r.result == FAILURE and "connection refused" in r.message
