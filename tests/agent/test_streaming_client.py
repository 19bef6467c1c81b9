"""The kubernetes Python client's ``stream()`` and ``portforward()`` through the API server, and the agent's
own authentication (only the API server's client certificate may use it)."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket
from kubernetes import client, config
from kubernetes.stream import portforward, stream

from kubelite.agent.streaming.backend import StaticPods
from kubelite.agent.streaming.server import StreamingServer
from kubelite.api.security.pki import ensure_pki
from kubelite.containers.engine import Engine
from tests.agent import streaming_rig
from tests.agent.streaming_rig import Rig

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with streaming_rig.running(tmp_path_factory.mktemp("streaming")) as r:
        yield r


@pytest.fixture(scope="module")
def core(rig: Rig) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(config_file=str(rig.cluster.kubeconfig))
    try:
        yield client.CoreV1Api(api)
    finally:
        api.close()


def _exec(core: client.CoreV1Api, command: list[str], **kw: bool) -> client.ApiClient:
    opts = {"stdin": False, "stdout": True, "stderr": True, "tty": False, **kw}
    return stream(core.connect_get_namespaced_pod_exec, "app", "default", container="main", command=command,
                  _preload_content=False, **opts)


def test_exec_exit_code_and_streams(rig: Rig, core: client.CoreV1Api) -> None:
    before = rig.server.served["exec/websocket:v5.channel.k8s.io"]
    ws = _exec(core, ["sh", "-c", "echo out; echo err >&2; exit 5"])
    ws.run_forever(timeout=30)
    assert (ws.read_stdout(), ws.read_stderr(), ws.returncode) == ("out\n", "err\n", 5)
    assert rig.server.served["exec/websocket:v5.channel.k8s.io"] == before + 1


def test_exec_stdin_closed_with_v5(core: client.CoreV1Api) -> None:
    ws = _exec(core, ["sh", "-c", "wc -c; exit 0"], stdin=True)
    ws.write_stdin("twelve bytes")
    ws.close_channel(0)  # v5: end of stdin, the command sees EOF and exits
    ws.run_forever(timeout=30)
    assert ws.read_stdout().strip() == "12"
    assert ws.returncode == 0


def test_exec_with_a_terminal(core: client.CoreV1Api) -> None:
    ws = _exec(core, ["sh", "-c", "tty; stty size"], tty=True)
    ws.run_forever(timeout=30)
    out = ws.read_stdout()
    assert out.startswith("/dev/pts/"), out
    assert ws.returncode == 0


def test_preloaded_exec_output(core: client.CoreV1Api) -> None:
    out = stream(core.connect_get_namespaced_pod_exec, "app", "default", container="main",
                 command=["cat", "/www/index.html"], stdin=False, stdout=True, stderr=True, tty=False)
    assert out == "pong\n"


def test_port_forward_v4_channels(rig: Rig, core: client.CoreV1Api) -> None:
    pf = portforward(core.connect_get_namespaced_pod_portforward, "app", "default", ports="8080")
    try:
        sock = pf.socket(8080)
        sock.settimeout(30)
        sock.sendall(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        assert data.startswith(b"HTTP/1.") and data.endswith(b"pong\n"), data
        sock.close()
        assert pf.error(8080) is None
    finally:
        pf.close()
    assert rig.server.served["portforward/websocket:v4.channel.k8s.io"] >= 1


def _agent_get(rig: Rig, cert: tuple[bytes, bytes] | None) -> int:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert is not None:
        d = rig.base / "certs"
        d.mkdir(exist_ok=True)
        (d / "c.crt").write_bytes(cert[0])
        (d / "c.key").write_bytes(cert[1])
        ctx.load_cert_chain(d / "c.crt", d / "c.key")
    url = f"https://127.0.0.1:{rig.server.port}/containerLogs/default/app/short"
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def test_agent_accepts_only_the_api_server(rig: Rig) -> None:
    pki = ensure_pki(rig.cluster.data_dir)
    assert _agent_get(rig, None) == 401
    assert _agent_get(rig, pki.issue_client_cert("kubelite-admin", ("system:masters",))) == 403
    assert _agent_get(rig, pki.issue_client_cert("kube-apiserver-kubelet-client")) == 200


@pytest.mark.parametrize("protocol", ["v4.channel.k8s.io", "v4.base64.channel.k8s.io", "channel.k8s.io"])
def test_exec_older_channel_protocols(rig: Rig, protocol: str) -> None:
    """What other clients speak: v4 (the Status, no close channel), base64 text frames, and v1's error text."""
    pki = ensure_pki(rig.cluster.data_dir)
    d = rig.base / "admin"
    d.mkdir(exist_ok=True)
    cert, key = pki.issue_client_cert("admin-ws", ("system:masters",))
    (d / "c.crt").write_bytes(cert)
    (d / "c.key").write_bytes(key)
    url = (f"wss://127.0.0.1:{rig.cluster.port}/api/v1/namespaces/default/pods/app/exec?container=main"
           "&command=sh&command=-c&command=echo%20hi%3B%20exit%206&stdout=true&stderr=true")
    ws = websocket.create_connection(url, subprotocols=[protocol], timeout=30, sslopt={
        "cert_reqs": ssl.CERT_NONE, "certfile": str(d / "c.crt"), "keyfile": str(d / "c.key")})
    got: dict[int, bytes] = {}
    try:
        assert ws.subprotocol == protocol
        while True:
            try:
                msg = ws.recv()
            except websocket.WebSocketConnectionClosedException:
                break
            if not msg:
                break
            if isinstance(msg, str):  # base64: the channel as a digit, then the payload in base64
                channel, payload = int(msg[0]), base64.b64decode(msg[1:])
            else:
                channel, payload = msg[0], msg[1:]
            got[channel] = got.get(channel, b"") + payload
    finally:
        ws.close()
    assert got.get(1) == b"hi\n"
    if protocol.startswith("v4."):
        status = json.loads(got[3])
        assert status["reason"] == "NonZeroExitCode"
        assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "6"}]
    else:
        assert b"exit code 6" in got[3]


def test_no_cluster_ca_no_server() -> None:
    """Without the CA nobody can be authenticated, so the server stays off rather than open to all."""
    server = StreamingServer(StaticPods(Engine(Path("/nonexistent"))), b"", host="127.0.0.1", port=0)
    asyncio.run(server.start())
    assert server.runner is None and server.port == 0


def test_terminal_session_hung_up_when_the_client_leaves(core: client.CoreV1Api) -> None:
    ws = _exec(core, ["sh", "-c", "exec sleep 1001"], tty=True, stdin=True)
    ws.update(timeout=1)
    assert "sleep 1001" in _ps(core)
    ws.close()
    deadline = time.monotonic() + 30
    while "sleep 1001" in _ps(core):
        assert time.monotonic() < deadline, "the terminal session outlived its client"
        time.sleep(0.1)


def _ps(core: client.CoreV1Api) -> str:
    return str(stream(core.connect_get_namespaced_pod_exec, "app", "default", container="main", command=["ps", "-o", "args"],
                      stdin=False, stdout=True, stderr=True, tty=False))


def test_log_api_without_a_container(core: client.CoreV1Api) -> None:
    """The API itself (kubectl picks a default container first): several containers need a name."""
    with pytest.raises(client.ApiException) as e:
        core.read_namespaced_pod_log("app", "default")
    assert e.value.status == 400
    assert "a container name must be specified for pod app, choose one of: [main short tick]" in str(e.value.body)
    assert core.read_namespaced_pod_log("ask", "default", tail_lines=0) == ""


def test_log_api_nanosecond_since_time_is_cut_to_seconds(rig: Rig) -> None:
    """sinceTime is a metav1.Time: whole seconds, so a line logged within that second is still shown."""
    stamped = rig.ok("logs", "app", "-c", "short", "--timestamps").splitlines()
    last = stamped[-1].split()[0]
    raw = rig.ok("get", "--raw", f"/api/v1/namespaces/default/pods/app/log?container=short&sinceTime={last}")
    assert raw.endswith("line3\n") and raw.count("line") == sum(1 for s in stamped if s[:19] == last[:19])
