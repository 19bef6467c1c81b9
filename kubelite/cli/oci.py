"""`kubelite oci`: the runc command line, so tools made for runc can drive kubelite.

Verbs, flags, output (`state` JSON, `list` table) and exit codes follow runc;
flags runc has that change nothing here (--systemd-cgroup, --no-pivot,
--log-format...) are accepted and ignored so callers need no special case.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path
from typing import Any

from kubelite.cli.args import Parser
from kubelite.cli.table import print_table
from kubelite.cli.terminal import relay_pty
from kubelite.errors import Invalid, NotFound
from kubelite.paths import state_root
from kubelite.runtime import spec as oci
from kubelite.runtime import syscalls as sc
from kubelite.runtime.container import Runtime, compiled_seccomp


def build_parser() -> Parser:
    p = Parser(prog="kubelite oci")
    p.add_argument("--root", default=None)
    p.add_argument("--log", default=None)
    p.add_argument("--log-format", default="text")
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true")
    p.add_argument("--rootless", default=None)
    sub = p.add_subparsers(dest="verb", required=True, parser_class=Parser)

    def create_like(name: str) -> Parser:
        s = sub.add_parser(name)
        s.add_argument("--bundle", "-b", default=".")
        s.add_argument("--pid-file", default=None)
        s.add_argument("--console-socket", default=None)
        s.add_argument("--no-pivot", action="store_true")
        s.add_argument("--no-new-keyring", action="store_true")
        s.add_argument("--preserve-fds", type=int, default=0)
        s.add_argument("id")
        return s

    create_like("create")
    r = create_like("run")
    r.add_argument("--detach", "-d", action="store_true")
    sub.add_parser("start").add_argument("id")
    sub.add_parser("state").add_argument("id")
    k = sub.add_parser("kill")
    k.add_argument("--all", "-a", action="store_true")
    k.add_argument("id")
    k.add_argument("signal", nargs="?", default="SIGTERM")
    d = sub.add_parser("delete")
    d.add_argument("--force", "-f", action="store_true")
    d.add_argument("id")
    lst = sub.add_parser("list")
    lst.add_argument("--quiet", "-q", action="store_true")
    lst.add_argument("--format", "-f", default="table", choices=["table", "json"])
    e = sub.add_parser("exec")
    e.add_argument("--process", "-p", default=None)
    e.add_argument("--tty", "-t", action="store_true")
    e.add_argument("--cwd", default=None)
    e.add_argument("--env", "-e", action="append", default=[])
    e.add_argument("--user", "-u", default=None)
    e.add_argument("--detach", "-d", action="store_true")
    e.add_argument("--pid-file", default=None)
    e.add_argument("--console-socket", default=None)
    e.add_argument("id")
    e.add_argument("command", nargs="...")
    sp = sub.add_parser("spec")
    sp.add_argument("--bundle", "-b", default=".")
    sp.add_argument("--rootless", action="store_true")
    for verb in ("pause", "resume", "ps"):
        sub.add_parser(verb).add_argument("id")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv[1:])
    if args.verb == "spec":
        return cmd_spec(Path(args.bundle))
    rt = Runtime(Path(args.root) if args.root else state_root() / "oci")
    handler = globals()[f"cmd_{args.verb}"]
    return int(handler(rt, args) or 0)


def cmd_spec(bundle: Path) -> int:
    target = bundle / "config.json"
    if target.exists():
        raise Invalid(f"File {target} exists. Remove it first")
    target.write_text(json.dumps(oci.default_spec(terminal=True), indent=2) + "\n")
    return 0


def _write_pid(path: str | None, pid: int) -> None:
    if path:
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            f.write(str(pid))
        os.replace(tmp, path)


def _send_console(path: str, fd: int) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        socket.send_fds(s, [b"/dev/ptmx"], [fd])
    finally:
        s.close()
        os.close(fd)


def _create(rt: Runtime, args: Any, wait_start: bool) -> tuple[Any, int | None]:
    spec = oci.load_bundle(Path(args.bundle))
    terminal = bool(spec["process"].get("terminal"))
    detached = args.verb == "create" or getattr(args, "detach", False)
    if terminal and detached and not args.console_socket:
        raise Invalid("cannot allocate tty if kubelite will detach without setting console socket")
    if args.console_socket and not terminal:
        raise Invalid("cannot use console socket if kubelite will not allocate tty")
    st, launched = rt.create(args.id, Path(args.bundle), spec=spec, wait_start=wait_start)
    _write_pid(args.pid_file, st.pid)
    console = launched.console_fd
    if console is not None and args.console_socket:
        _send_console(args.console_socket, console)
        console = None
    return st, console


def cmd_create(rt: Runtime, args: Any) -> int:
    _create(rt, args, wait_start=True)
    return 0


def _wait(pid: int) -> int:
    from kubelite.runtime import exec as rexec

    return rexec.wait(pid)


def cmd_run(rt: Runtime, args: Any) -> int:
    if not args.detach:
        sc.set_subreaper()  # the container's init is re-parented to us, so we can wait for its exit code
    st, console = _create(rt, args, wait_start=False)
    if args.detach:
        return 0
    forward = _forward_signals(st.pid)
    try:
        if console is not None:
            relay_pty(console, stdin=True)
        code = _wait(st.pid)
    finally:
        forward()
    rt.delete(args.id, force=True)
    return code


def _forward_signals(pid: int) -> Any:
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
    old = {s: signal.getsignal(s) for s in sigs}

    def handler(signum: int, _frame: Any) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for s in sigs:
        signal.signal(s, handler)

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)

    return restore


def cmd_start(rt: Runtime, args: Any) -> int:
    rt.start(args.id)
    return 0


def cmd_state(rt: Runtime, args: Any) -> int:
    print(json.dumps(rt.state(args.id), indent=2))
    return 0


def cmd_kill(rt: Runtime, args: Any) -> int:
    rt.kill(args.id, args.signal, all_processes=args.all)
    return 0


def cmd_delete(rt: Runtime, args: Any) -> int:
    try:
        rt.delete(args.id, force=args.force)
    except NotFound:
        if not args.force:
            raise
    return 0


def cmd_list(rt: Runtime, args: Any) -> int:
    states = [rt.state(st.id) for st in rt.list()]
    if args.quiet:
        for s in states:
            print(s["id"])
    elif args.format == "json":
        print(json.dumps(states))
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], "root") for s in states]
        print_table(rows)
    return 0


def cmd_exec(rt: Runtime, args: Any) -> int:
    from kubelite.runtime import exec as rexec

    st = rt.load(args.id)
    if args.process:
        try:
            process = json.loads(Path(args.process).read_text())
        except (OSError, ValueError) as e:
            raise Invalid(f"cannot read process spec {args.process}: {e}") from None
    else:
        if not args.command:
            raise Invalid("exec: a command is required")
        user = None
        if args.user:
            uid, _, gid = args.user.partition(":")
            user = {"uid": int(uid), "gid": int(gid or 0)}
        process = rexec.merge_process(st.process, args.command, args.env, args.cwd, user, args.tty)
    if process.get("terminal") and args.detach and not args.console_socket:
        raise Invalid("cannot allocate tty if kubelite will detach without setting console socket")
    pid, console = rexec.spawn(st, process, rt.cgroup(st), seccomp_program=compiled_seccomp(st.seccomp))
    _write_pid(args.pid_file, pid)
    if console is not None and args.console_socket:
        _send_console(args.console_socket, console)
        console = None
    if args.detach:
        return 0
    if console is not None:
        relay_pty(console, stdin=True)
    return rexec.wait(pid)


def cmd_pause(rt: Runtime, args: Any) -> int:
    rt.cgroup(rt.load(args.id)).freeze()
    return 0


def cmd_resume(rt: Runtime, args: Any) -> int:
    rt.cgroup(rt.load(args.id)).thaw()
    return 0


def cmd_ps(rt: Runtime, args: Any) -> int:
    for pid in rt.cgroup(rt.load(args.id)).procs():
        print(pid)
    return 0


