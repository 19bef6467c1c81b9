"""The docker-like commands: run, ps, logs, exec, stop, kill, rm, inspect, wait, stats."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from kubelite.cli.args import Parser
from kubelite.cli.table import print_table
from kubelite.cli.terminal import attach_session, relay_pty
from kubelite.containers.engine import ContainerRecord, Engine
from kubelite.containers.specgen import RunOptions
from kubelite.errors import Conflict, Invalid, KubeliteError
from kubelite.runtime import attach as af
from kubelite.runtime import exec as rexec
from kubelite.runtime.container import compiled_seccomp, parse_signal
from kubelite.runtime.logs import read_records


def _run_parser(prog: str) -> Parser:
    p = Parser(prog=prog, add_help=False)
    p.add_argument("--help", action="help")
    p.add_argument("--rm", action="store_true")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("--name")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("-m", "--memory")
    p.add_argument("--cpus", type=float)
    p.add_argument("--cpu-shares", type=int)
    p.add_argument("--pids-limit", type=int)
    p.add_argument("-v", "--volume", action="append", default=[])
    p.add_argument("-w", "--workdir")
    p.add_argument("-u", "--user")
    p.add_argument("--hostname", "-h")
    p.add_argument("--entrypoint")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("--read-only", action="store_true")
    p.add_argument("--privileged", action="store_true")
    p.add_argument("--cap-add", action="append", default=[])
    p.add_argument("--cap-drop", action="append", default=[])
    p.add_argument("-l", "--label", action="append", default=[])
    p.add_argument("image")
    p.add_argument("command", nargs="...")
    return p


def _options(a: Any, attached: bool = False) -> RunOptions:
    """``attached``: `run` without ``-d``, which as ``docker run`` makes an interactive container StdinOnce."""
    labels = {}
    for lbl in a.label:
        k, _, v = lbl.partition("=")
        labels[k] = v
    return RunOptions(
        image=a.image, command=a.command, name=a.name, env=a.env, memory=a.memory, cpus=a.cpus,
        cpu_shares=a.cpu_shares, pids_limit=a.pids_limit, volumes=a.volume, workdir=a.workdir, user=a.user,
        hostname=a.hostname, entrypoint=a.entrypoint, interactive=a.interactive,
        stdin_once=a.interactive and attached and not a.detach, tty=a.tty, rm=a.rm,
        detach=a.detach, read_only=a.read_only, privileged=a.privileged, cap_add=a.cap_add,
        cap_drop=a.cap_drop, labels=labels)


def main(argv: list[str]) -> int:
    cmd = argv[0]
    return int(globals()[f"cmd_{cmd}"](argv[1:]) or 0)


def cmd_run(argv: list[str]) -> int:
    a = _run_parser("kubelite run").parse_args(argv)
    if a.tty and not a.interactive and not a.detach and not os.isatty(0):
        pass  # docker allows -t without a terminal on stdin
    engine = Engine()
    opts = _options(a, attached=True)
    try:
        rec, st = engine.run(opts)
    except KubeliteError as e:
        if "executable file not found" in str(e) or "no such file or directory" in str(e):
            print(f"kubelite: {e}", file=sys.stderr)
            return 127
        raise
    if a.detach:
        print(rec.id)
        return 0
    conn = af.connect(str(st.dir / "attach.sock"))

    def forward(signum: int) -> None:
        try:
            engine.runtime.kill(rec.id, signum)
        except KubeliteError:
            pass

    code = attach_session(conn, stdin=a.interactive, tty_mode=a.tty, on_signal=forward)
    conn.close()
    return code


def cmd_create(argv: list[str]) -> int:
    a = _run_parser("kubelite create").parse_args(argv)
    rec = Engine().create(_options(a))
    print(rec.id)
    return 0


def cmd_start(argv: list[str]) -> int:
    p = Parser(prog="kubelite start")
    p.add_argument("names", nargs="+")
    a = p.parse_args(argv)
    engine = Engine()
    for n in a.names:
        rec = engine.find(n)
        if engine.view(rec).status != "created":
            raise Conflict(f"container {rec.name} was already started")
        engine.start(rec)
        print(n)
    return 0


def _ago(ts: str) -> str:
    try:
        t = datetime.strptime(ts[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    except ValueError:
        return "?"
    s = (datetime.now(UTC) - t).total_seconds()
    for unit, n in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if s >= n:
            k = int(s // n)
            return f"{k} {unit}{'s' if k > 1 else ''}"
    return "Less than a second" if s < 1 else f"{int(s)} seconds"


def cmd_ps(argv: list[str]) -> int:
    p = Parser(prog="kubelite ps")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    a = p.parse_args(argv)
    engine = Engine()
    rows: list[tuple[str, ...]] = [("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES")]
    for rec in engine.records():
        v = engine.view(rec)
        if v.status != "running" and not a.all:
            continue
        if a.quiet:
            print(rec.id if a.no_trunc else rec.id[:12])
            continue
        if v.status == "running":
            status = f"Up {_ago(v.state.started if v.state and v.state.started else rec.created)}"
        elif v.status == "exited":
            status = f"Exited ({(v.exit or {}).get('exitCode', 255)}) {_ago((v.exit or {}).get('finishedAt', ''))} ago"
        else:
            status = "Created"
        command = " ".join(rec.args)
        if not a.no_trunc and len(command) > 20:
            command = command[:19] + "…"
        rows.append((rec.id if a.no_trunc else rec.id[:12], rec.image, f'"{command}"',
                     f"{_ago(rec.created)} ago", status, "", rec.name))
    if not a.quiet:
        print_table(rows)
    return 0


def cmd_logs(argv: list[str]) -> int:
    p = Parser(prog="kubelite logs")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-t", "--timestamps", action="store_true")
    p.add_argument("-n", "--tail", default="all")
    p.add_argument("name")
    a = p.parse_args(argv)
    engine = Engine()
    rec = engine.find(a.name)
    try:
        f = open(rec.log_path, "rb")
    except FileNotFoundError:
        return 0
    with f:
        pending: dict[str, bytes] = {}
        if a.tail != "all":
            try:
                n = int(a.tail)
            except ValueError:
                raise Invalid(f"invalid --tail value {a.tail!r}") from None
            records = list(read_records(f))
            _emit(records[-n:] if n > 0 else [], pending, a.timestamps)
        else:
            _emit(read_records(f), pending, a.timestamps)
        while a.follow:
            done = engine.view(rec).status != "running"
            got = list(read_records(f))
            _emit(got, pending, a.timestamps)
            if done and not got:
                break
            if not got:
                time.sleep(0.1)
    return 0


def _emit(records: Any, pending: dict[str, bytes], timestamps: bool) -> None:
    for r in records:
        fd = 1 if r.stream == "stdout" else 2
        data = pending.pop(r.stream, b"") + r.data
        if r.partial:
            pending[r.stream] = data
            continue
        line = (r.time.encode() + b" " if timestamps else b"") + data + b"\n"
        os.write(fd, line)


def cmd_exec(argv: list[str]) -> int:
    p = Parser(prog="kubelite exec")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("-u", "--user")
    p.add_argument("-w", "--workdir")
    p.add_argument("name")
    p.add_argument("command", nargs="...")
    a = p.parse_args(argv)
    if not a.command:
        raise Invalid("exec: a command is required")
    engine = Engine()
    rec = engine.find(a.name)
    v = engine.view(rec)
    if v.status != "running" or v.state is None:
        raise Conflict(f"container {rec.name} is not running")
    st = v.state
    user = None
    if a.user:
        from kubelite.containers.users import resolve_user

        user = resolve_user(st.rootfs, a.user)
    process = rexec.merge_process(st.process, a.command, a.env, a.workdir, user, a.tty)
    devnull = os.open(os.devnull, os.O_RDONLY)
    stdio = (0 if a.interactive else devnull, 1, 2)
    try:
        pid, console = rexec.spawn(st, process, engine.runtime.cgroup(st), stdio=stdio,
                                   seccomp_program=compiled_seccomp(st.seccomp))
    except KubeliteError as e:
        print(f"kubelite: {e}", file=sys.stderr)
        return 127 if "not found" in str(e) or "no such file" in str(e) else 126
    finally:
        os.close(devnull)
    if a.detach:
        return 0
    if console is not None:
        relay_pty(console, stdin=a.interactive)
    return rexec.wait(pid)


def cmd_stop(argv: list[str]) -> int:
    p = Parser(prog="kubelite stop")
    p.add_argument("-t", "--time", type=float, default=10)
    p.add_argument("names", nargs="+")
    a = p.parse_args(argv)
    engine = Engine()
    for n in a.names:
        engine.stop(n, a.time)
        print(n)
    return 0


def cmd_kill(argv: list[str]) -> int:
    p = Parser(prog="kubelite kill")
    p.add_argument("-s", "--signal", default="SIGKILL")
    p.add_argument("names", nargs="+")
    a = p.parse_args(argv)
    parse_signal(a.signal)
    engine = Engine()
    for n in a.names:
        engine.kill(n, a.signal)
        print(n)
    return 0


def cmd_rm(argv: list[str]) -> int:
    p = Parser(prog="kubelite rm")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("names", nargs="+")
    a = p.parse_args(argv)
    engine = Engine()
    failed = 0
    for n in a.names:
        try:
            engine.remove(n, force=a.force)
            print(n)
        except KubeliteError as e:
            print(f"kubelite: {e}", file=sys.stderr)
            failed = 1
    return failed


def cmd_inspect(argv: list[str]) -> int:
    p = Parser(prog="kubelite inspect")
    p.add_argument("names", nargs="+")
    a = p.parse_args(argv)
    engine = Engine()
    print(json.dumps([engine.inspect(n) for n in a.names], indent=4))
    return 0


def cmd_wait(argv: list[str]) -> int:
    p = Parser(prog="kubelite wait")
    p.add_argument("names", nargs="+")
    a = p.parse_args(argv)
    engine = Engine()
    for n in a.names:
        rec: ContainerRecord = engine.find(n)
        exit_ = engine.wait_exit(rec)
        print((exit_ or {}).get("exitCode", 255))
    return 0


def cmd_stats(argv: list[str]) -> int:
    p = Parser(prog="kubelite stats")
    p.add_argument("--no-stream", action="store_true")
    p.add_argument("names", nargs="+")
    a = p.parse_args(argv)
    engine = Engine()
    rows: list[tuple[str, ...]] = [("CONTAINER ID", "NAME", "CPU TIME", "MEM USAGE / LIMIT", "PIDS")]
    for n in a.names:
        rec = engine.find(n)
        v = engine.view(rec)
        if v.state is None or v.status != "running":
            raise Conflict(f"container {rec.name} is not running")
        s = engine.runtime.cgroup(v.state).stats()
        limit = _size(s.memory_limit) if s.memory_limit else "unlimited"
        rows.append((rec.id[:12], rec.name, f"{s.cpu_usage_ns / 1e9:.3f}s", f"{_size(s.memory_usage)} / {limit}",
                     str(s.pids_current)))
    print_table(rows)
    return 0


def _size(n: int) -> str:
    value: float = n
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f}{unit}" if unit != "B" else f"{value}B"
        value = value / 1024
    return str(value)
