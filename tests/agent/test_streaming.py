"""kubectl logs, exec, attach, cp and port-forward through the API server to the node's streaming server.

Everything is real: busybox containers from the Engine, the streaming server,
the API server subprocess, kubectl 1.32 (WebSockets first, and SPDY/3.1 when
told not to use them) and the kubernetes Python client's ``stream()``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kubelite.api.security.kubeconfig import build_kubeconfig
from kubelite.api.security.pki import ensure_pki
from tests.agent import streaming_rig
from tests.agent.streaming_rig import Rig

pytestmark = pytest.mark.root

WS: dict[str, str] = {}
SPDY = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false", "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}
PROTOCOLS = pytest.mark.parametrize("env", [WS, SPDY], ids=["websocket", "spdy"])
# What the agent must have negotiated with kubectl 1.32 for each setting: proof the fallback was really taken.
EXEC_PROTOCOL = {"websocket": "exec/websocket:v5.channel.k8s.io", "spdy": "exec/spdy:v4.channel.k8s.io"}
FORWARD_PROTOCOL = {"websocket": "portforward/websocket:SPDY/3.1+portforward.k8s.io",
                    "spdy": "portforward/spdy:portforward.k8s.io"}


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with streaming_rig.running(tmp_path_factory.mktemp("streaming")) as r:
        yield r


def _kind(env: dict[str, str]) -> str:
    return "spdy" if env else "websocket"


@contextlib.contextmanager
def served(rig: Rig, key: str) -> Iterator[None]:
    """Asserts the block made the agent serve at least one ``key`` session."""
    before = rig.server.served[key]
    yield
    assert rig.server.served[key] > before, f"no {key} session: {dict(rig.server.served)}"


# --- logs -------------------------------------------------------------------------------------------------------


def test_logs_both_streams_in_order(rig: Rig) -> None:
    out = rig.ok("logs", "app", "-c", "main")
    assert out.splitlines()[:2] == ["hello-out", "hello-err"]


def test_logs_tail_timestamps_and_limit(rig: Rig) -> None:
    assert rig.ok("logs", "app", "-c", "short", "--tail=1") == "line3\n"
    stamped = rig.ok("logs", "app", "-c", "short", "--timestamps").splitlines()
    assert len(stamped) == 3
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line1", stamped[0])
    assert rig.ok("logs", "app", "-c", "short", "--limit-bytes=8") == "line1\nli"


def test_logs_since(rig: Rig) -> None:
    assert rig.ok("logs", "app", "-c", "short", "--since-time=2000-01-01T00:00:00Z").count("line") == 3
    assert rig.ok("logs", "app", "-c", "short", "--since-time=2999-01-01T00:00:00Z") == ""
    assert rig.ok("logs", "app", "-c", "short", "--since=24h").count("line") == 3


def test_logs_follow_a_running_container(rig: Rig) -> None:
    """New lines arrive as the container writes them, through the agent and the API server."""
    proc = subprocess.Popen([*rig.cluster.argv, "logs", "-f", "--tail=1", "app", "-c", "tick"], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        first = int(proc.stdout.readline().split()[1])
        nxt = [int(proc.stdout.readline().split()[1]) for _ in range(3)]
        assert nxt == [first + 1, first + 2, first + 3]
    finally:
        proc.terminate()
        proc.wait(10)


def test_logs_follow_ends_when_the_container_has_exited(rig: Rig) -> None:
    assert rig.ok("logs", "-f", "app", "-c", "short", timeout=30) == "line1\nline2\nline3\n"


def test_logs_follow_ends_when_the_client_leaves(rig: Rig) -> None:
    """``logs -f`` of a container that logs nothing more: a client that leaves ends the agent's session too."""
    streaming_rig.wait_idle(rig, "logs")  # an earlier test's session may still be winding down
    proc = subprocess.Popen([*rig.cluster.argv, "logs", "-f", "app", "-c", "main"], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "hello-out\n"
        assert rig.server.active["logs"] == 1
    finally:
        proc.kill()
        proc.wait(10)
    streaming_rig.wait_idle(rig, "logs")


def test_logs_all_containers_and_previous(rig: Rig) -> None:
    out = rig.ok("logs", "app", "--all-containers")
    assert "hello-out" in out and "line3" in out
    r = rig.kubectl("logs", "app", "-c", "short", "--previous")
    assert r.returncode != 0 and 'previous terminated container "short" in pod "app" not found' in r.stderr


def test_logs_errors(rig: Rig) -> None:
    r = rig.kubectl("logs", "app", "-c", "nope")
    assert r.returncode != 0 and "container nope is not valid for pod app" in r.stderr
    r = rig.kubectl("logs", "unbound")
    assert r.returncode != 0 and "pod unbound does not have a host assigned" in r.stderr
    r = rig.kubectl("logs", "silent")
    assert r.returncode != 0 and 'node "silent-node" has no kubelet endpoint' in r.stderr, r.stderr
    r = rig.kubectl("logs", "dead")
    assert r.returncode != 0 and "error dialing backend" in r.stderr, r.stderr
    r = rig.kubectl("exec", "dead", "--", "true")
    assert r.returncode != 0 and "error dialing backend" in r.stderr, r.stderr


# --- exec -------------------------------------------------------------------------------------------------------


@PROTOCOLS
def test_exec_output_and_exit_code(rig: Rig, env: dict[str, str]) -> None:
    with served(rig, EXEC_PROTOCOL[_kind(env)]):
        r = rig.kubectl("exec", "app", "-c", "main", "--", "sh", "-c", "echo out; echo err >&2; exit 3", env=env)
    assert (r.returncode, r.stdout) == (3, "out\n"), r.stderr
    assert "err\n" in r.stderr
    assert rig.ok("exec", "app", "-c", "main", "--", "cat", "/www/index.html", env=env) == "pong\n"


@PROTOCOLS
def test_exec_stdin_piped(rig: Rig, env: dict[str, str]) -> None:
    data = "".join(f"line {i}\n" for i in range(2000))
    with served(rig, EXEC_PROTOCOL[_kind(env)]):
        out = rig.ok("exec", "-i", "app", "-c", "main", "--", "cat", input=data, env=env)
    assert out == data
    assert rig.ok("exec", "-i", "app", "-c", "main", "--", "wc", "-l", input=data, env=env).strip() == "2000"


@PROTOCOLS
def test_exec_missing_command(rig: Rig, env: dict[str, str]) -> None:
    r = rig.kubectl("exec", "app", "-c", "main", "--", "no-such-command", env=env)
    assert r.returncode == 127, (r.returncode, r.stderr)


def test_exec_errors(rig: Rig) -> None:
    r = rig.kubectl("exec", "app", "-c", "nope", "--", "true")
    assert r.returncode != 0 and "container nope is not valid for pod app" in r.stderr
    r = rig.kubectl("exec", "unbound", "--", "true")
    assert r.returncode != 0 and "does not have a host assigned" in r.stderr
    for verb in ("exec", "attach"):
        r = rig.kubectl(verb, "app", "-c", "short", *(["--", "true"] if verb == "exec" else []))
        assert r.returncode != 0 and 'container "short" in pod "app" is not running' in r.stderr, r.stderr


# --- cp, attach, port-forward ----------------------------------------------------------------------------------


@PROTOCOLS
def test_cp_both_ways(rig: Rig, env: dict[str, str], tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_bytes(os.urandom(100_000).hex().encode())
    with served(rig, EXEC_PROTOCOL[_kind(env)]):
        rig.ok("cp", str(src), "app:/tmp/in.txt", "-c", "main", env=env)
    back = tmp_path / "back.txt"
    rig.ok("cp", "app:/tmp/in.txt", str(back), "-c", "main", env=env)
    assert back.read_bytes() == src.read_bytes()


def test_attach_with_stdin(rig: Rig) -> None:
    with served(rig, "attach/websocket:v5.channel.k8s.io"):
        r = rig.kubectl("attach", "-i", "ask", "-c", "main", input="hello\n", timeout=60)
    assert "got hello" in r.stdout, r.stderr
    assert r.returncode == 4, (r.returncode, r.stderr)


@PROTOCOLS
def test_port_forward(rig: Rig, env: dict[str, str]) -> None:
    before = rig.server.served[FORWARD_PROTOCOL[_kind(env)]]
    proc = subprocess.Popen([*rig.cluster.argv, "port-forward", "pod/app", ":8080"], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"127\.0\.0\.1:(\d+) -> 8080", line)
        assert m, f"{line!r} {proc.stderr.read() if proc.poll() is not None and proc.stderr else ''}"
        for _ in range(3):  # each request is a new connection, a new pair of streams
            with urllib.request.urlopen(f"http://127.0.0.1:{m.group(1)}/index.html", timeout=30) as resp:
                assert resp.read() == b"pong\n"
        assert rig.server.served[FORWARD_PROTOCOL[_kind(env)]] > before
    finally:
        proc.terminate()
        proc.wait(10)


@PROTOCOLS
def test_exec_interactive_terminal(rig: Rig, env: dict[str, str]) -> None:
    """``kubectl exec -it`` from a real terminal: the shell gets a pty of kubectl's size, and its exit code."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 101, 0, 0))
    proc = subprocess.Popen([*rig.cluster.argv, "exec", "-it", "app", "-c", "main", "--", "sh"],
                            stdin=slave, stdout=slave, stderr=slave, env={**os.environ, **env},
                            start_new_session=True)
    os.close(slave)
    out = b""
    try:
        os.write(master, b"stty size; tty; exit 7\n")
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, f"no output from kubectl exec -it: {out!r}"
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: kubectl exited and closed the terminal
                break
            if not chunk:
                break
            out += chunk
        assert proc.wait(30) == 7, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = out.decode(errors="replace")
    assert "31 101" in text and "/dev/pts/" in text, text


def test_exec_needs_the_pods_exec_permission(rig: Rig, tmp_path: Path) -> None:
    """A node's identity may read pods but not exec into them: 403 from the API server, nothing reaches the agent."""
    pki = ensure_pki(rig.cluster.data_dir)
    cert, key = pki.issue_client_cert("system:node:other", ("system:nodes",))
    kubeconfig = tmp_path / "node.yaml"
    kubeconfig.write_text(yaml.safe_dump(build_kubeconfig(
        f"https://127.0.0.1:{rig.cluster.port}", pki.ca_pem, client_cert=(cert, key))))
    before = dict(rig.server.served)
    argv = [streaming_rig.KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache")]
    for env in (WS, SPDY):
        r = subprocess.run([*argv, "exec", "app", "-c", "main", "--", "true"], capture_output=True, text=True,
                           timeout=60, env={**os.environ, **env})
        assert r.returncode != 0
        assert 'User "system:node:other" cannot' in r.stderr and '"pods/exec"' in r.stderr, r.stderr
    assert dict(rig.server.served) == before
    r = subprocess.run([*argv, "logs", "app", "-c", "main"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and '"pods/log"' in r.stderr, r.stderr


@PROTOCOLS
def test_attach_to_output(rig: Rig, env: dict[str, str]) -> None:
    """Attach without stdin: the running container's output as it is written, until kubectl leaves."""
    key = {"websocket": "attach/websocket:v5.channel.k8s.io", "spdy": "attach/spdy:v4.channel.k8s.io"}[_kind(env)]
    before = rig.server.served[key]
    proc = subprocess.Popen([*rig.cluster.argv, "attach", "app", "-c", "tick"], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env})
    try:
        assert proc.stdout is not None
        first = int(proc.stdout.readline().split()[1])
        assert int(proc.stdout.readline().split()[1]) == first + 1
        assert rig.server.served[key] == before + 1
    finally:
        proc.terminate()
        proc.wait(10)


@PROTOCOLS
def test_exec_stdin_larger_than_the_buffers(rig: Rig, env: dict[str, str]) -> None:
    """Stdin beyond what the agent and the API server buffer (1 MiB each) while the command is not reading yet:
    the client is slowed down, nothing is lost."""
    data = "x" * (6 << 20)
    out = rig.ok("exec", "-i", "app", "-c", "main", "--", "sh", "-c", "sleep 1; wc -c", input=data, env=env,
                 timeout=120)
    assert out.strip() == str(len(data))


@PROTOCOLS
def test_exec_command_that_stops_reading_stdin(rig: Rig, env: dict[str, str]) -> None:
    """``head -1`` reads one line and exits: the rest of a large stdin is dropped, the exit code still arrives."""
    data = "first\n" + "x" * (4 << 20)
    r = rig.kubectl("exec", "-i", "app", "-c", "main", "--", "sh", "-c", "head -1; exit 9", input=data, env=env,
                    timeout=120)
    assert (r.returncode, r.stdout) == (9, "first\n"), r.stderr


@PROTOCOLS
def test_attach_interactive_terminal(rig: Rig, env: dict[str, str]) -> None:
    """``kubectl attach -it`` to a container with a terminal: typing reaches its shell, its size follows
    kubectl's terminal."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 27 + len(env), 93, 0, 0))
    proc = subprocess.Popen([*rig.cluster.argv, "attach", "-it", "term", "-c", "main"],
                            stdin=slave, stdout=slave, stderr=slave, env={**os.environ, **env},
                            start_new_session=True)
    os.close(slave)
    out = b""
    want = f"{27 + len(env)} 93".encode()
    try:
        # kubectl sends the size plus one, then the real size (to force a redraw): a `stty size` may run
        # between the two, so ask again until the real size shows (the shell's answers, not the echo of
        # what was typed, carry the marker: it is computed)
        for attempt in range(10):
            os.write(master, f"\nstty size; echo attached-$((6*7+{attempt}))\n".encode())
            while f"attached-{42 + attempt}".encode() not in out:
                ready, _, _ = select.select([master], [], [], 30)
                assert ready, f"no output from kubectl attach -it: {out!r}"
                out += os.read(master, 4096)
            if want in out:
                break
        assert want in out, out
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
