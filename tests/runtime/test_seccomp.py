"""The seccomp compiler, checked twice: by the BPF interpreter, and by the kernel in forked children.

Children that install a filter never return into pytest: they report over a
pipe and leave with os._exit. Blocked calls are made with arguments the
kernel would reject anyway (bad magic, NULL pointers, invalid flags), so a
broken filter fails the test without touching the machine.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from kubelite.errors import Invalid
from kubelite.runtime import capabilities, seccomp
from kubelite.runtime.syscall_table import I386, X86_64
from tests.runtime.forking import in_child

libc = ctypes.CDLL(None, use_errno=True)
x86_64_only = pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers are x86_64's")

ALLOW, EPERM_RET = seccomp.RET_ALLOW, seccomp.RET_ERRNO | errno.EPERM
MASK64 = (1 << 64) - 1




def sys(nr: int, *args: int) -> tuple[int, int]:
    ctypes.set_errno(0)
    ret = libc.syscall(ctypes.c_long(nr), *(ctypes.c_ulong(a & MASK64) for a in args))
    return int(ret), ctypes.get_errno()


def filtered(profile: dict[str, Any]) -> None:
    capabilities.no_new_privs()
    seccomp.install(seccomp.compile_profile(profile))


def nr(name: str) -> int:
    return X86_64[name]


# --- compiler, through the interpreter ----------------------------------------------------

VALUES = [0, 1, 4, 5, 6, 0xFFFFFFFF, 0x100000000, 0x100000004, 0x100000005, 0x100000006,
          0x1FFFFFFFF, 0x200000000, 0x200000005, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, MASK64]
REFERENCE: dict[str, Callable[[int, int, int], bool]] = {
    "SCMP_CMP_EQ": lambda a, v, _: a == v, "SCMP_CMP_NE": lambda a, v, _: a != v,
    "SCMP_CMP_LT": lambda a, v, _: a < v, "SCMP_CMP_LE": lambda a, v, _: a <= v,
    "SCMP_CMP_GT": lambda a, v, _: a > v, "SCMP_CMP_GE": lambda a, v, _: a >= v,
    "SCMP_CMP_MASKED_EQ": lambda a, m, v2: a & m == v2,
}


def arg_profile(op: str, value: int, value_two: int = 0, index: int = 0) -> dict[str, Any]:
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42,
         "args": [{"index": index, "op": op, "value": value, "valueTwo": value_two}]}]}


@pytest.mark.parametrize("op", sorted(REFERENCE))
def test_64_bit_comparisons_match_python(op: str) -> None:
    rng = random.Random(op)
    for value in (5, 0x100000005, 0xFFFFFFFF00000000, MASK64):
        value_two = value & 0x0000000F0000000F if op == "SCMP_CMP_MASKED_EQ" else 0
        for index in (0, 3, 5):
            prog = seccomp.compile_profile(arg_profile(op, value, value_two, index))
            for a in VALUES + [rng.getrandbits(64) for _ in range(20)]:
                args = [0] * 6
                args[index] = a
                want = seccomp.RET_ERRNO | 42 if REFERENCE[op](a, value, value_two) else ALLOW
                assert seccomp.evaluate(prog, nr("getppid"), args) == want, (op, hex(value), hex(a))


def test_errno_ret_and_defaults() -> None:
    prog = seccomp.compile_profile({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.ENOSYS,
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["write"], "action": "SCMP_ACT_ERRNO"},
                     {"names": ["open"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES},
                     {"names": ["close"], "action": "SCMP_ACT_TRAP"},
                     {"names": ["stat"], "action": "SCMP_ACT_LOG"},
                     {"names": ["fstat"], "action": "SCMP_ACT_KILL"},
                     {"names": ["lstat"], "action": "SCMP_ACT_KILL_PROCESS"},
                     {"names": ["poll"], "action": "SCMP_ACT_TRACE", "errnoRet": 7}]})
    expect = {"read": ALLOW, "write": EPERM_RET, "open": seccomp.RET_ERRNO | errno.EACCES,
              "close": seccomp.RET_TRAP, "stat": seccomp.RET_LOG, "fstat": seccomp.RET_KILL_THREAD,
              "lstat": seccomp.RET_KILL_PROCESS, "poll": seccomp.RET_TRACE | 7,
              "getpid": seccomp.RET_ERRNO | errno.ENOSYS}
    for name, ret in expect.items():
        assert seccomp.evaluate(prog, nr(name)) == ret, name
    assert seccomp.describe(seccomp.evaluate(prog, nr("getpid"))) == "SCMP_ACT_ERRNO(38)"


def test_400_syscalls_and_far_jumps() -> None:
    names = sorted(X86_64)
    entries: list[dict[str, Any]] = [
        {"names": [n], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 + i % 200} for i, n in enumerate(names)]
    # Conditional rules on top, so some blocks and some plain groups are far apart.
    for i, n in enumerate(names[: 400 - len(entries)]):
        entries.append({"names": [n], "action": "SCMP_ACT_ALLOW",
                        "args": [{"index": 1, "op": "SCMP_CMP_EQ", "value": 1000 + i}]})
    assert len(entries) == 400
    prog = seccomp.compile_profile({"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": entries})
    assert len(prog) <= seccomp.BPF_MAXINSNS
    for i, n in enumerate(names):
        assert seccomp.evaluate(prog, X86_64[n]) == seccomp.RET_ERRNO | (1 + i % 200), n
    conditional = names[: 400 - len(names)]
    for i, n in enumerate(conditional):
        assert seccomp.evaluate(prog, X86_64[n], [0, 1000 + i]) == ALLOW
        assert seccomp.evaluate(prog, X86_64[n], [0, 999 + i]) == seccomp.RET_ERRNO | (1 + names.index(n) % 200)
    assert seccomp.evaluate(prog, 1000) == seccomp.RET_KILL_PROCESS


def test_default_profile_is_searched_not_scanned() -> None:
    """Every call number of every architecture of the default profile gets the action its lists give, in a few
    instructions: the kernel runs the filter for each number when it loads it (its cache of always-allowed
    calls), so a filter that scans hundreds of JEQs made every container start pay ~1 ms of CPU for it."""
    from kubelite.runtime.syscall_table import TABLES

    profile = seccomp.default_profile()
    prog = seccomp.compile_profile(profile)
    default = seccomp.RET_ERRNO | profile["defaultErrnoRet"]
    plain: dict[str, int] = {}
    conditional: set[str] = set()
    for entry in profile["syscalls"]:
        for name in entry["names"]:
            if entry.get("args"):
                conditional.add(name)
            else:
                ret = seccomp.ACTIONS[entry["action"]]
                plain[name] = ret | entry.get("errnoRet", errno.EPERM) if ret == seccomp.RET_ERRNO else ret
    checked = 0
    for arch in ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"):
        names = {nr: name for name, nr in TABLES[arch].items()}
        first = min(names)
        for nr in range(first, max(names) + 3):  # the gaps between numbers and past the last too
            name = names.get(nr, "")
            if name in conditional:
                continue
            trace: list[int] = []
            got = seccomp.evaluate(prog, nr, arch=seccomp.AUDIT_ARCHES[arch], trace=trace)
            assert got == plain.get(name, default), (arch, nr, name)
            assert len(trace) <= 16, (arch, nr, name, len(trace))
            checked += 1
    assert checked > 1000
    assert len(prog) < 1000


def test_trampolines_for_blocks_longer_than_255() -> None:
    many = [{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 1, "op": "SCMP_CMP_EQ", "value": 0x5400 + i}]} for i in range(150)]
    profile = {"defaultAction": "SCMP_ACT_ERRNO",
               "syscalls": [*many, {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]}
    prog = seccomp.compile_profile(profile)
    assert len(prog) > 600
    assert any(code == 0x05 for code, *_ in prog.instructions), "expected a JA trampoline"
    assert all(0 <= jt <= 255 and 0 <= jf <= 255 for _, jt, jf, _ in prog.instructions)
    for i in range(150):
        assert seccomp.evaluate(prog, nr("ioctl"), [1, 0x5400 + i]) == ALLOW
    assert seccomp.evaluate(prog, nr("ioctl"), [1, 0x5400 + 150]) == EPERM_RET
    assert seccomp.evaluate(prog, nr("read")) == ALLOW
    assert seccomp.evaluate(prog, nr("open")) == EPERM_RET


def test_unknown_names_are_skipped() -> None:
    base = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}
    with_unknown = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read", "no_such_call", "_llseek"], "action": "SCMP_ACT_ALLOW"}]}
    assert seccomp.compile_profile(with_unknown).instructions == seccomp.compile_profile(base).instructions


@pytest.mark.parametrize("profile, message", [
    ({"defaultAction": "SCMP_ACT_EXPLODE"}, "unknown action"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "ALLOW"}]}, "unknown action"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]},
     "not supported"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "op": "SCMP_CMP_EQ", "value": 1}]}]},
     "index"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "SCMP_CMP_XX", "value": 1}]}]},
     "op"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 1 << 64}]}]},
     "64 bits"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]},
     "errnoRet"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}, "architecture"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}, "flag"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read", "action": "SCMP_ACT_ERRNO"}]}, "names"),
])
def test_bad_profiles_are_invalid(profile: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        seccomp.compile_profile(profile)


def test_program_too_long_is_invalid() -> None:
    args = [{"index": i, "op": "SCMP_CMP_GT", "value": 1 << 40} for i in range(6)]
    entries = [{"names": [n], "action": "SCMP_ACT_ALLOW", "args": args} for n in sorted(X86_64)]
    with pytest.raises(Invalid, match="4096"):
        seccomp.compile_profile({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": entries})


def test_repeated_argument_index_means_or() -> None:
    prog = seccomp.compile_profile({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 0}, {"index": 0, "op": "SCMP_CMP_EQ", "value": 8}]}]})
    assert [seccomp.evaluate(prog, nr("personality"), [v]) for v in (0, 8, 9)] == [ALLOW, ALLOW, EPERM_RET]


def test_architectures_and_x32() -> None:
    only64 = seccomp.compile_profile({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"]},
                                     native="SCMP_ARCH_X86_64")
    assert seccomp.evaluate(only64, nr("getpid")) == ALLOW
    assert seccomp.evaluate(only64, 0x40000000 | 39) == seccomp.RET_KILL_PROCESS
    assert seccomp.evaluate(only64, -1) == ALLOW  # a tracer's skipped call
    assert seccomp.evaluate(only64, 1, arch=seccomp.AUDIT_ARCH_I386) == seccomp.RET_KILL_PROCESS
    prog = seccomp.compile_profile(seccomp.default_profile(), native="SCMP_ARCH_X86_64")
    assert seccomp.evaluate(prog, I386["read"], arch=seccomp.AUDIT_ARCH_I386) == ALLOW
    assert seccomp.evaluate(prog, I386["reboot"], arch=seccomp.AUDIT_ARCH_I386) == EPERM_RET
    assert seccomp.evaluate(prog, 0x40000000 | 39) == ALLOW  # x32 getpid: X32 is listed
    assert seccomp.evaluate(prog, 0x40000000 | 169) == EPERM_RET  # x32 reboot
    assert seccomp.evaluate(prog, 63, arch=seccomp.AUDIT_ARCH_AARCH64) == seccomp.RET_KILL_PROCESS
    # Untabled libseccomp arches are accepted and simply not filtered for.
    seccomp.compile_profile({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_S390X"]})
    arm = seccomp.compile_profile(seccomp.default_profile(), native="SCMP_ARCH_AARCH64")
    assert seccomp.evaluate(arm, 63, arch=seccomp.AUDIT_ARCH_AARCH64) == ALLOW  # read
    assert seccomp.evaluate(arm, 142, arch=seccomp.AUDIT_ARCH_AARCH64) == EPERM_RET  # reboot


def test_default_profile_depends_on_caps() -> None:
    plain = seccomp.compile_profile(seccomp.default_profile(capabilities.DEFAULT_CAPS), native="SCMP_ARCH_X86_64")
    admin = seccomp.compile_profile(seccomp.default_profile(["CAP_SYS_ADMIN", "SYS_TIME", "CAP_SYS_PTRACE"]),
                                    native="SCMP_ARCH_X86_64")
    newns = 0x00020000 | signal.SIGCHLD
    thread_flags = 0x3D0F00
    assert seccomp.evaluate(plain, nr("clone"), [newns]) == EPERM_RET
    assert seccomp.evaluate(plain, nr("clone"), [thread_flags]) == ALLOW
    assert seccomp.evaluate(plain, nr("clone"), [newns | (1 << 40)]) == EPERM_RET
    assert seccomp.evaluate(admin, nr("clone"), [newns]) == ALLOW
    assert seccomp.evaluate(plain, nr("clone3")) == seccomp.RET_ERRNO | errno.ENOSYS
    assert seccomp.evaluate(admin, nr("clone3")) == ALLOW
    assert seccomp.evaluate(plain, nr("unshare"), [0x400]) == ALLOW  # CLONE_FILES
    assert seccomp.evaluate(plain, nr("unshare"), [0x80]) == EPERM_RET  # CLONE_NEWTIME
    for name in ("mount", "umount2", "pivot_root", "setns"):
        assert (seccomp.evaluate(plain, nr(name)), seccomp.evaluate(admin, nr(name))) == (EPERM_RET, ALLOW)
    for name in ("settimeofday", "clock_settime", "adjtimex", "ptrace", "process_vm_readv"):
        assert (seccomp.evaluate(plain, nr(name)), seccomp.evaluate(admin, nr(name))) == (EPERM_RET, ALLOW)
    for name in ("kexec_load", "keyctl", "add_key", "swapon", "userfaultfd", "io_uring_setup", "reboot",
                 "init_module", "bpf", "perf_event_open", "open_by_handle_at"):
        assert seccomp.evaluate(plain, nr(name)) == EPERM_RET, name
    assert seccomp.evaluate(plain, nr("personality"), [0xFFFFFFFF]) == ALLOW
    assert seccomp.evaluate(plain, nr("personality"), [0x0040000]) == EPERM_RET
    assert seccomp.evaluate(plain, nr("socket"), [socket.AF_INET]) == ALLOW
    assert seccomp.evaluate(plain, nr("socket"), [40]) == EPERM_RET
    with pytest.raises(Invalid):
        seccomp.default_profile(["CAP_NOPE"])


def test_compiles_are_cached() -> None:
    profile = seccomp.default_profile()
    assert seccomp.compile_profile(profile) is seccomp.compile_profile(json.loads(json.dumps(profile)))


# --- in the kernel ------------------------------------------------------------------------

@x86_64_only
@pytest.mark.parametrize("op", sorted(REFERENCE))
def test_kernel_agrees_on_comparisons(op: str) -> None:
    value, value_two = 0x100000005, 0x100000004
    cases = VALUES + [0xDEADBEEF00000005]

    def child() -> list[bool]:
        filtered(arg_profile(op, value, value_two if op == "SCMP_CMP_MASKED_EQ" else 0))
        return [sys(nr("getppid"), a) == (-1, 42) for a in cases]

    status, out = in_child(child)
    assert status == 0, out
    assert out["ok"] == [REFERENCE[op](a, value, value_two) for a in cases]


BLOCKED: list[tuple[str, tuple[int, ...]]] = [
    ("reboot", (0, 0, 0, 0)),
    ("init_module", (0, 0, 0)),
    ("finit_module", (-1, 0, 0)),
    ("delete_module", (0, 0)),
    ("kexec_load", (0, 1000, 0, 0xFFFF0000)),
    ("kexec_file_load", (-1, -1, 0, 0, 0xFFFFFFFF)),
    ("add_key", (0, 0, 0, 0, 0)),
    ("request_key", (0, 0, 0, 0)),
    ("keyctl", (0xDEAD, 0, 0, 0, 0)),
    ("swapon", (0, 0)),
    ("swapoff", (0,)),
    ("acct", (1,)),
    ("settimeofday", (0, 0)),
    ("clock_settime", (0xDEAD, 0)),
    ("adjtimex", (0,)),
    ("mount", (0, 0, 0, 0, 0)),
    ("umount2", (0, 0)),
    ("pivot_root", (0, 0)),
    ("unshare", (0x00020000,)),  # CLONE_NEWNS: harmless in this child even if allowed
    ("setns", (-1, 0)),
    ("ptrace", (2, 1, 0, 0)),  # PTRACE_PEEKDATA on a process we do not trace
    ("process_vm_readv", (1, 0, 0, 0, 0, 0)),
    ("process_vm_writev", (1, 0, 0, 0, 0, 0)),
    ("bpf", (0xDEAD, 0, 0)),
    ("perf_event_open", (0, 0, 0, 0, 0)),
    ("userfaultfd", (0xFFFFFFFF,)),
    ("open_by_handle_at", (-1, 0, 0)),
    ("personality", (0x0040000,)),  # ADDR_NO_RANDOMIZE
    ("clone", (0x00020000 | 0x00000200 | signal.SIGCHLD, 0, 0, 0, 0)),  # NEWNS|FS: EINVAL if let through
    ("clone", (0x10000000 | 0x00000200 | signal.SIGCHLD, 0, 0, 0, 0)),  # NEWUSER|FS: EINVAL if let through
    ("io_uring_setup", (0, 0)),
]


@x86_64_only
def test_default_profile_blocks_dangerous_calls() -> None:
    def child() -> dict[str, Any]:
        filtered(seccomp.default_profile())
        results = [[name, *sys(nr(name), *args)] for name, args in BLOCKED]
        return {"mode": seccomp.mode(), "results": results, "clone3": sys(nr("clone3"), 0, 0)}

    status, out = in_child(child)
    assert status == 0, out
    assert out["ok"]["mode"] == 2
    for name, ret, err in out["ok"]["results"]:
        assert (name, ret, err) == (name, -1, errno.EPERM)
    assert out["ok"]["clone3"] == [-1, errno.ENOSYS]


def test_default_profile_allows_normal_programs(tmp_path: Any) -> None:
    (tmp_path / "f").write_text("data")

    def child() -> dict[str, Any]:
        filtered(seccomp.default_profile())
        out: dict[str, Any] = {}
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        out["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        out["true"] = subprocess.run(["/bin/true"]).returncode
        out["echo"] = subprocess.run(["/bin/busybox", "echo", "hi"], capture_output=True).stdout.decode()
        out["read"] = (tmp_path / "f").read_text()
        out["time"] = time.time() > 1e9 and time.monotonic() > 0
        box: list[int] = []
        t = threading.Thread(target=lambda: box.append(threading.get_native_id()))
        t.start()
        t.join()
        out["thread"] = bool(box)
        with socket.socket() as s:
            out["socket"] = s.fileno() > 0
        a, b = socket.socketpair()
        a.send(b"x")
        out["socketpair"] = b.recv(1).decode()
        out["unshare_files"] = sys(nr("unshare"), 0x400)[0]
        return out

    status, out = in_child(child)
    assert status == 0, out
    assert out["ok"] == {"fork": 7, "true": 0, "echo": "hi\n", "read": "data", "time": True,
                         "thread": True, "socket": True, "socketpair": "x", "unshare_files": 0}


def test_busybox_runs_under_the_default_profile() -> None:
    program = seccomp.compile_profile(seccomp.default_profile())
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover
        try:
            os.dup2(w, 1)
            capabilities.no_new_privs()
            seccomp.install(program)
            os.execv("/bin/busybox", ["busybox", "sh", "-c",
                                      "echo ok; ls / >/dev/null && echo ls; grep Seccomp: /proc/self/status;"
                                      " (sleep 0; echo sub) | cat; date +%Y >/dev/null && echo date"])
        finally:
            os._exit(127)
    os.close(w)
    with os.fdopen(r) as f:
        text = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert text.split("\n")[:2] == ["ok", "ls"]
    assert "Seccomp:\t2" in text and "sub\n" in text and "date\n" in text


@x86_64_only
@pytest.mark.parametrize("action", ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_TRAP"])
def test_killing_actions(action: str) -> None:
    def child() -> None:
        filtered({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid"], "action": action}]})
        sys(nr("getppid"))

    status, _ = in_child(child)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


@x86_64_only
def test_x32_calls_are_killed_unless_listed() -> None:
    def child() -> None:
        filtered({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"]})
        sys(0x40000000 | 39)

    status, _ = in_child(child)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


@x86_64_only
def test_400_syscall_profile_loads_in_the_kernel() -> None:
    names = sorted(X86_64)
    entries: list[dict[str, Any]] = [{"names": [n], "action": "SCMP_ACT_ALLOW"} for n in names if n != "getppid"]
    entries += [{"names": ["getppid"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": i}]} for i in range(400 - len(entries))]
    assert len(entries) == 400
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.EBADE, "syscalls": entries}

    def child() -> list[Any]:
        ppid = os.getppid()
        filtered(profile)
        return [sys(nr("getppid"), 0)[0] == ppid, sys(nr("getppid"), 10_000), sys(999)]

    status, out = in_child(child)
    assert status == 0, out
    assert out["ok"] == [True, [-1, errno.EBADE], [-1, errno.EBADE]]
