"""`kubelite run` and friends, as a user runs them: real containers from the busybox image."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import KUBELITE, Env

pytestmark = pytest.mark.root


def inspect(kenv: Env, name: str) -> dict[str, object]:
    return dict(json.loads(kenv.ok("inspect", name))[0])


def wait_status(kenv: Env, name: str, status: str, timeout: float = 20) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        info = inspect(kenv, name)
        if info["State"]["Status"] == status or time.monotonic() > deadline:  # type: ignore[index]
            return info


def test_run_prints_output_and_returns_exit_code(kenv: Env) -> None:
    res = kenv.run("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 42")
    assert res.returncode == 42
    assert res.stdout == "out\n"
    assert res.stderr == "err\n"
    assert kenv.ok("ps", "-aq") == ""


def test_container_is_isolated(kenv: Env) -> None:
    script = "; ".join([
        "echo pid=$$", "echo host=$(hostname)", "echo nproc=$(ls -d /proc/[0-9]* | wc -l)",
        "test -e /work && echo SEES-HOST-FILES", "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo WROTE-PROC-SYS",
        "touch /sys/kernel/x 2>/dev/null && echo WROTE-SYS", "echo timers=$(cat /proc/timer_list | wc -c)",
        "echo keys=$(cat /proc/keys | wc -l)",
        "mount -t tmpfs none /mnt 2>/dev/null && echo MOUNTED", "grep CapEff /proc/self/status",
        "grep NoNewPrivs /proc/self/status", "grep Seccomp: /proc/self/status", "ls /dev",
    ])
    res = kenv.run("run", "--rm", "--hostname", "box", "busybox", "sh", "-c", script)
    out = res.stdout
    assert res.returncode == 0, res.stderr
    assert "pid=1" in out and "host=box" in out
    # sh, the $(...) subshell, ls and wc: nothing of the host's hundreds of processes
    assert int(re.search(r"nproc=(\d+)", out).group(1)) <= 4  # type: ignore[union-attr]
    for marker in ("SEES-HOST-FILES", "WROTE-PROC-SYS", "WROTE-SYS", "MOUNTED"):
        assert marker not in out
    assert Path("/proc/timer_list").stat().st_size == 0 and len(Path("/proc/timer_list").read_bytes()) > 0
    assert "timers=0" in out and "keys=0" in out  # masked: /dev/null bound over them
    assert re.search(r"CapEff:\s+00000000a80425fb", out), out  # Docker's default set, nothing more
    assert re.search(r"NoNewPrivs:\s+1", out) and re.search(r"Seccomp:\s+2", out)
    for dev in ("null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm"):
        assert dev in out.split()


def test_blocked_syscalls_fail_with_eperm(kenv: Env) -> None:
    # Creating a user namespace needs no capability, so only the seccomp profile stands in the way;
    # a privileged container (no profile) shows the same command works when nothing blocks it.
    script = "unshare -U true 2>&1; echo rc=$?"
    res = kenv.run("run", "--rm", "busybox", "sh", "-c", script)
    assert "rc=1" in res.stdout and "Operation not permitted" in res.stdout, res.stdout
    res = kenv.run("run", "--rm", "--privileged", "busybox", "sh", "-c", script)
    assert "rc=0" in res.stdout, res.stdout


def test_signals_have_default_dispositions(kenv: Env) -> None:
    # SIGPIPE must kill `yes` once `head` is gone; nothing the runtime ignored may leak into the container.
    res = kenv.run("run", "--rm", "busybox", "sh", "-c", "yes | head -n 1")
    assert (res.returncode, res.stdout) == (0, "y\n")
    res = kenv.run("run", "--rm", "busybox", "grep", "-E", "SigIgn|SigBlk", "/proc/self/status")
    assert re.search(r"SigIgn:\s+0+\n", res.stdout) and re.search(r"SigBlk:\s+0+\n", res.stdout), res.stdout


def test_oom_killed_is_reported(kenv: Env) -> None:
    res = kenv.run("run", "--name", "hog", "-m", "16m", "busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M",
                   "count=1")
    assert res.returncode == 137
    info = inspect(kenv, "hog")
    assert info["State"]["OOMKilled"] is True  # type: ignore[index]
    assert info["State"]["ExitCode"] == 137  # type: ignore[index]
    assert info["HostConfig"]["Memory"] == 16 * 1024 * 1024  # type: ignore[index]
    kenv.ok("rm", "hog")


def test_pids_limit_stops_a_fork_bomb(kenv: Env) -> None:
    # The bomb runs in an inner shell, which dies when fork fails; the outer one counts the survivors
    # with builtins only, since it cannot fork either.
    script = ("sh -c 'for i in $(seq 40); do sleep 30 & done' 2>/dev/null; echo inner=$?; n=0; "
              "for p in /proc/[0-9]*/comm; do read c < $p; [ \"$c\" = sleep ] && n=$((n+1)); done; "
              "echo sleeping=$n; kill -9 -1")
    res = kenv.run("run", "--rm", "--pids-limit", "12", "busybox", "sh", "-c", script)
    assert res.returncode == 0, res.stderr
    assert "inner=0" not in res.stdout
    sleeping = int(re.search(r"sleeping=(\d+)", res.stdout).group(1))  # type: ignore[union-attr]
    assert 0 < sleeping < 12


def test_cpu_quota_throttles(kenv: Env) -> None:
    kenv.ok("run", "-d", "--name", "spin", "--cpus", "0.1", "busybox", "sh", "-c", "while :; do :; done")
    try:
        info = inspect(kenv, "spin")
        assert info["HostConfig"]["NanoCpus"] == 100_000_000  # type: ignore[index]
        pid = info["State"]["Pid"]  # type: ignore[index]
        cg = [line for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines() if ":cpu," in line or
              ":cpu:" in line or ":cpuacct,cpu" in line][0].split(":")[2]
        base = Path("/sys/fs/cgroup/cpu") / cg.lstrip("/")
        assert (base / "cpu.cfs_quota_us").read_text().strip() == "10000"
        deadline = time.monotonic() + 10
        while int(re.search(r"nr_throttled (\d+)", (base / "cpu.stat").read_text()).group(1)) == 0:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "never throttled"
            time.sleep(0.1)
    finally:
        kenv.ok("rm", "-f", "spin")


def test_detached_container_outlives_the_command(kenv: Env) -> None:
    # PID 1 gets no default signal actions, so the script handles SIGTERM itself, as a real service must.
    cid = kenv.ok("run", "-d", "--name", "bg", "busybox", "sh", "-c",
                  "trap 'exit 143' TERM; echo started; while :; do sleep 0.1; done").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    ps = kenv.ok("ps")
    assert "bg" in ps and cid[:12] in ps and "Up" in ps
    info = inspect(kenv, "bg")
    pid = info["State"]["Pid"]  # type: ignore[index]
    ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert Path(f"/proc/{ppid}/comm").read_text().strip() == "kubelite-shim"
    deadline = time.monotonic() + 10
    while "started" not in kenv.ok("logs", "bg") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kenv.ok("logs", "bg") == "started\n"
    kenv.ok("stop", "-t", "20", "bg")
    info = inspect(kenv, "bg")
    assert info["State"]["Status"] == "exited"  # type: ignore[index]
    assert info["State"]["ExitCode"] == 143  # type: ignore[index]  # its own exit, not the SIGKILL
    assert "Exited (143)" in kenv.ok("ps", "-a")
    kenv.ok("rm", "bg")
    assert kenv.ok("ps", "-aq") == ""


def test_logs_are_cri_format_and_follow(kenv: Env) -> None:
    kenv.ok("run", "-d", "--name", "talker", "busybox", "sh", "-c",
            "for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.2; done")
    res = kenv.run("logs", "-f", "talker", timeout=30)
    assert res.stdout == "out1\nout2\nout3\n"
    assert res.stderr == "err1\nerr2\nerr3\n"
    log = Path(inspect(kenv, "talker")["LogPath"])  # type: ignore[arg-type]
    lines = log.read_text().splitlines()
    assert len(lines) == 6
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) F (out|err)\d$", ln) for ln in lines)
    tail = kenv.run("logs", "--tail", "2", "talker")  # the last two lines, whichever stream they were on
    assert (tail.stdout, tail.stderr) == ("out3\n", "err3\n")
    kenv.ok("rm", "talker")


def test_exec_joins_the_container(kenv: Env) -> None:
    kenv.ok("run", "-d", "--name", "host", "--hostname", "inside", "-e", "FOO=bar", "busybox", "sleep", "300")
    try:
        res = kenv.run("exec", "-e", "X=1", "host", "sh", "-c", "hostname; echo $FOO$X; ps -o pid,args | grep -c '[s]leep 300'; exit 5")
        assert res.returncode == 5, res.stderr
        assert res.stdout.splitlines()[:3] == ["inside", "bar1", "1"]
        assert kenv.ok("exec", "-u", "1000:1000", "host", "id", "-u").strip() == "1000"
        missing = kenv.run("exec", "host", "nosuchcmd")
        assert missing.returncode == 127 and len(missing.stderr.strip().splitlines()) == 1
        assert kenv.ok("exec", "-i", "host", "cat", input="piped\n") == "piped\n"
    finally:
        kenv.ok("rm", "-f", "host")


def _run_in_pty(kenv: Env, args: list[str], send: bytes = b"", timeout: float = 30) -> tuple[int, bytes]:
    master, slave = pty.openpty()
    proc = subprocess.Popen([*KUBELITE, *args], env=kenv.env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    if send:
        time.sleep(0.5)
        os.write(master, send)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=10)
    os.close(master)
    return code, out


def test_tty_run_and_exec(kenv: Env) -> None:
    code, out = _run_in_pty(kenv, ["run", "--rm", "-t", "busybox", "sh", "-c", "tty; stty size"])
    assert code == 0, out
    assert b"/dev/pts/0" in out
    kenv.ok("run", "-d", "--name", "t", "busybox", "sleep", "300")
    try:
        code, out = _run_in_pty(kenv, ["exec", "-it", "t", "sh"], send=b"tty; exit 3\n")
        assert code == 3, out
        assert b"/dev/pts/" in out
    finally:
        kenv.ok("rm", "-f", "t")


def test_interactive_stdin(kenv: Env) -> None:
    assert kenv.ok("run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z", input="hello\n") == "HELLO\n"


def test_stdin_once_as_docker_sets_it(kenv: Env) -> None:
    """`run -i` attached makes the container StdinOnce (its stdin ends with the session's); `create -i` and
    `run -di` keep stdin open for later attaches."""
    try:
        kenv.ok("run", "--name", "once", "-i", "busybox", "cat", input="x\n")
        kenv.ok("create", "--name", "open", "-i", "busybox", "cat")
        kenv.ok("run", "-d", "--name", "detached", "-i", "busybox", "cat")
        config = {n: inspect(kenv, n)["Config"] for n in ("once", "open", "detached")}
        assert {n: (c["OpenStdin"], c["StdinOnce"]) for n, c in config.items()} == {  # type: ignore[index]
            "once": (True, True), "open": (True, False), "detached": (True, False)}
    finally:
        kenv.ok("rm", "-f", "once", "open", "detached")


def test_volumes_workdir_user_env(kenv: Env, tmp_path: Path) -> None:
    data = tmp_path / "vol"
    data.mkdir()
    (data / "in.txt").write_text("from host\n")
    out = kenv.ok("run", "--rm", "-v", f"{data}:/data", "-v", f"{data}:/ro:ro", "-w", "/data", "-u", "1000:1000",
                  "-e", "GREETING=hi", "busybox", "sh", "-c",
                  "pwd; cat in.txt; id -u; id -g; echo $GREETING; touch /ro/x 2>/dev/null || echo ro-refused")
    assert out.splitlines() == ["/data", "from host", "1000", "1000", "hi", "ro-refused"]
    out = kenv.ok("run", "--rm", "-v", f"{data}:/data", "busybox", "sh", "-c", "echo written > /data/out.txt")
    assert (data / "out.txt").read_text() == "written\n"


@pytest.mark.parametrize("args, message", [
    (["run", "--rm", "nosuchimage"], "image not found"),
    (["run", "--rm", "-m", "lots", "busybox", "true"], "invalid memory size"),
    (["run", "--rm", "--cpus", "99", "busybox", "true"], "range of CPUs"),
    (["run", "--rm", "-v", "relative:/x", "busybox", "true"], "invalid volume"),
    (["logs", "nosuchcontainer"], "no such container"),
    (["rm", "nosuchcontainer"], "no such container"),
    (["exec", "nosuchcontainer", "true"], "no such container"),
    (["kill", "-s", "SIGNOPE", "x"], "unknown signal"),
])
def test_bad_input_is_one_line_and_leaves_nothing(kenv: Env, args: list[str], message: str) -> None:
    res = kenv.run(*args)
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr
    assert kenv.ok("ps", "-aq") == ""


def test_duplicate_name_and_missing_command(kenv: Env) -> None:
    kenv.ok("run", "-d", "--name", "dup", "busybox", "sleep", "300")
    try:
        res = kenv.run("run", "-d", "--name", "dup", "busybox", "true")
        assert res.returncode != 0 and "already in use" in res.stderr
        assert len(kenv.ok("ps", "-aq").split()) == 1
    finally:
        kenv.ok("rm", "-f", "dup")
    res = kenv.run("run", "--rm", "busybox", "no-such-binary")
    assert res.returncode == 127 and "executable file not found" in res.stderr
    assert kenv.ok("ps", "-aq") == ""


def test_rm_refuses_running_container(kenv: Env) -> None:
    kenv.ok("run", "-d", "--name", "busy", "busybox", "sleep", "300")
    res = kenv.run("rm", "busy")
    assert res.returncode != 0 and "stop it first" in res.stderr
    kenv.ok("kill", "busy")
    info = wait_status(kenv, "busy", "exited")
    assert info["State"]["ExitCode"] == 137  # type: ignore[index]
    kenv.ok("rm", "busy")


def test_failed_start_leaves_a_removable_record_and_nothing_else(kenv: Env) -> None:
    res = kenv.run("run", "--name", "broken", "busybox", "no-such-binary")
    assert res.returncode == 127
    assert "broken" in kenv.ok("ps", "-a")
    assert not kenv.run("logs", "broken").stdout
    kenv.ok("rm", "broken")
    assert kenv.ok("ps", "-aq") == ""


def test_stats_reads_usage(kenv: Env) -> None:
    kenv.ok("run", "-d", "--name", "s", "-m", "64m", "busybox", "sh", "-c", "while :; do :; done")
    try:
        time.sleep(0.3)
        out = kenv.ok("stats", "--no-stream", "s")
        row = out.splitlines()[1]
        assert "s" in row.split() and "/ 64.0MiB" in row
        cpu = float(re.search(r"(\d+\.\d+)s", row).group(1))  # type: ignore[union-attr]
        assert cpu > 0
    finally:
        kenv.ok("rm", "-f", "s")
