"""Seccomp: compile an OCI ``linux.seccomp`` dict to classic BPF, and install it.

No libseccomp: the compiler is ours, in pure Python, and runs in the
long-lived parent (results are cached by profile), so the forked container
init only hands a ready byte string to seccomp(2). That keeps the child fast
and allocation-free, and makes the exact program testable without a kernel
(``evaluate`` runs it in a tiny BPF interpreter).

Shape of a compiled program::

    load arch; one JEQ per audit arch in the profile; else return KILL_PROCESS
    per arch: load nr
        x86_64 only: nr >= 0x40000000 is x32 -> the x32 section if SCMP_ARCH_X32
                     is listed; otherwise KILL_PROCESS (nr == -1, which tracers
                     use to skip a call, gets the default action instead)
        a binary search (JGE) over runs of numbers with one outcome; its
        leaves return an action (calls without argument rules, and the
        numbers in between, which get defaultAction) or hold the block of a
        call with argument rules: each rule ANDs its conditions, the first
        rule that matches returns its action; then the call's unconditional
        action if it has one, else the default action

Semantics, and where they follow libseccomp/runc:

* The native architecture is always filtered, listed or not (libseccomp adds it).
  A syscall made through an architecture that is not in the profile is
  killed (the whole process: ``SECCOMP_RET_KILL_PROCESS``, where libseccomp's
  default bad-arch action kills only the thread), because its numbers mean
  different calls and the allowlist would be meaningless for it.
* Names an architecture does not have are skipped for that architecture,
  as runc does; libseccomp architectures we have no table for
  (``SCMP_ARCH_ARM``, ...) are accepted and left out, so their calls fall
  to the bad-arch kill. Other architecture names are ``Invalid``.
* Conditions in one rule are ANDed, except that when two conditions name
  the same argument index every condition becomes its own rule (ORed) --
  runc's reading of the spec.
* Arguments are compared as unsigned 64-bit numbers, high word first
  (x86_64 and arm64 are little-endian: ``args[i]`` low word at 16 + 8*i).
  On i386 only the low 32 bits are compared, as the registers are 32-bit.
* jt/jf offsets are 8-bit: a conditional jump whose target is too far gets
  a trampoline (an unconditional ``JA`` with a 32-bit offset) right after it;
  the assembler repeats until every offset fits. Programs are capped at the
  kernel's 4096 instructions.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import json
import os
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from kubelite.errors import Invalid, SystemFailure
from kubelite.runtime import capabilities, jsonbytes
from kubelite.runtime.syscall_table import ALLOW_WITH_CAP, DEFAULT_ALLOW, TABLES, X32_SYSCALL_BIT

# Return values (include/uapi/linux/seccomp.h).
RET_KILL_PROCESS = 0x80000000
RET_KILL_THREAD = 0x00000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000
RET_BAD_ARCH = RET_KILL_PROCESS

ACTIONS: dict[str, int] = {
    "SCMP_ACT_KILL": RET_KILL_THREAD, "SCMP_ACT_KILL_THREAD": RET_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": RET_KILL_PROCESS, "SCMP_ACT_TRAP": RET_TRAP,
    "SCMP_ACT_ERRNO": RET_ERRNO, "SCMP_ACT_TRACE": RET_TRACE,
    "SCMP_ACT_ALLOW": RET_ALLOW, "SCMP_ACT_LOG": RET_LOG,
}
OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
       "SCMP_CMP_MASKED_EQ")
FLAGS: dict[str, int] = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32,
}

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
AUDIT_ARCH_AARCH64 = 0xC00000B7
AUDIT_ARCHES: dict[str, int] = {
    "SCMP_ARCH_X86_64": AUDIT_ARCH_X86_64, "SCMP_ARCH_X32": AUDIT_ARCH_X86_64,
    "SCMP_ARCH_X86": AUDIT_ARCH_I386, "SCMP_ARCH_AARCH64": AUDIT_ARCH_AARCH64,
}
# Known to libseccomp, no table here: accepted, and their calls are killed as a bad arch.
_UNTABLED_ARCHES = frozenset(
    "SCMP_ARCH_ARM SCMP_ARCH_MIPS SCMP_ARCH_MIPS64 SCMP_ARCH_MIPS64N32 SCMP_ARCH_MIPSEL "
    "SCMP_ARCH_MIPSEL64 SCMP_ARCH_MIPSEL64N32 SCMP_ARCH_PPC SCMP_ARCH_PPC64 SCMP_ARCH_PPC64LE "
    "SCMP_ARCH_S390 SCMP_ARCH_S390X SCMP_ARCH_PARISC SCMP_ARCH_PARISC64 SCMP_ARCH_RISCV64 "
    "SCMP_ARCH_LOONGARCH64 SCMP_ARCH_M68K SCMP_ARCH_SH SCMP_ARCH_SHEB".split())
NATIVE_ARCH = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}.get(os.uname().machine, "")

BPF_MAXINSNS = 4096
# Classic BPF opcodes: class | size | mode, class | op | src.
_LD_W_ABS = 0x00 | 0x00 | 0x20
_ALU_AND_K = 0x04 | 0x50
_JA = 0x05 | 0x00
_JEQ, _JGT, _JGE, _JSET = 0x05 | 0x10, 0x05 | 0x20, 0x05 | 0x30, 0x05 | 0x40
_RET_K = 0x06
_OFF_NR, _OFF_ARCH, _OFF_ARGS = 0, 4, 16

Insn = tuple[int, int, int, int]  # code, jt, jf, k: struct sock_filter


@dataclass(frozen=True)
class Program:
    """A compiled filter: the sock_filter array, packed, and the seccomp(2) flags."""

    instructions: tuple[Insn, ...]
    flags: int = 0

    @functools.cached_property
    def blob(self) -> bytes:
        return b"".join(struct.pack("<HBBI", *insn) for insn in self.instructions)

    def __len__(self) -> int:
        return len(self.instructions)


# --- assembler: symbolic jumps, trampolines for far targets -------------------------------

class _Jump(NamedTuple):
    """A conditional jump; a target of None means the next instruction."""

    code: int
    k: int
    jt: object = None
    jf: object = None


class _Label(NamedTuple):
    name: object


_Item = Insn | _Jump | _Label


def _assemble(items: Sequence[_Item]) -> tuple[Insn, ...]:
    """Resolve labels; give each too-far jt/jf a JA trampoline until every offset fits 8 bits.

    Trampolines only ever get added, so addresses only grow and the loop ends.
    """
    far: set[tuple[int, bool]] = set()  # (item index, is the jt side)
    while True:
        addr: list[int] = []
        labels: dict[object, int] = {}
        pc = 0
        for i, item in enumerate(items):
            addr.append(pc)
            if isinstance(item, _Label):
                labels[item.name] = pc
            elif isinstance(item, _Jump):
                pc += 1 + ((i, True) in far) + ((i, False) in far)
            else:
                pc += 1
        addr.append(pc)
        grew = False
        out: list[Insn] = []
        for i, item in enumerate(items):
            if isinstance(item, _Label):
                continue
            if isinstance(item, _Jump):
                base = addr[i] + 1
                offsets: list[int] = []
                tramps: list[Insn] = []
                for side, target in ((True, item.jt), (False, item.jf)):
                    dest = addr[i + 1] if target is None else labels[target]
                    if dest < base:
                        raise AssertionError("BPF jumps only forward")
                    if (i, side) in far:
                        offsets.append(len(tramps))
                        tramps.append((_JA, 0, 0, dest - (base + len(tramps) + 1)))
                    else:
                        offsets.append(dest - base)
                        if dest - base > 255:
                            far.add((i, side))
                            grew = True
                out.append((item.code, offsets[0], offsets[1], item.k))
                out.extend(tramps)
            else:
                out.append(item)
        if not grew:
            return tuple(out)


# --- compiler ---------------------------------------------------------------------------

class _Cond(NamedTuple):
    arg: int
    op: str
    value: int
    value_two: int


class _Rule(NamedTuple):
    conds: tuple[_Cond, ...]
    action: int


def _u64(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise Invalid(f"seccomp: {what} must be an integer, not {v!r}")
    if not -(1 << 63) <= v < 1 << 64:
        raise Invalid(f"seccomp: {what} {v} does not fit 64 bits")
    return v & 0xFFFFFFFFFFFFFFFF  # a negative number is its two's complement, as libseccomp casts


def _action(name: Any, errno_ret: Any, default_errno: int, where: str) -> int:
    if name not in ACTIONS:
        if name == "SCMP_ACT_NOTIFY":
            raise Invalid(f"seccomp: {where}: SCMP_ACT_NOTIFY (user notification) is not supported")
        raise Invalid(f"seccomp: {where}: unknown action {name!r}")
    ret = ACTIONS[name]
    if ret in (RET_ERRNO, RET_TRACE):
        data = default_errno if errno_ret is None else _u64(errno_ret, f"{where}: errnoRet")
        if data > 0xFFFF:
            raise Invalid(f"seccomp: {where}: errnoRet {data} is more than 16 bits")
        return ret | data
    if errno_ret is not None:
        raise Invalid(f"seccomp: {where}: errnoRet is only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE")
    return ret


def _conditions(args: Any, where: str) -> list[tuple[_Cond, ...]]:
    """The alternatives (ORed) of one syscall entry, each an AND of conditions."""
    if not args:
        return [()]
    if not isinstance(args, list):
        raise Invalid(f"seccomp: {where}: args must be a list")
    conds: list[_Cond] = []
    for a in args:
        if not isinstance(a, Mapping):
            raise Invalid(f"seccomp: {where}: each arg must be an object")
        index = a.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= 5:
            raise Invalid(f"seccomp: {where}: arg index {index!r} is not 0..5")
        op = a.get("op")
        if op not in OPS:
            raise Invalid(f"seccomp: {where}: unknown arg op {op!r}")
        conds.append(_Cond(index, op, _u64(a.get("value", 0), f"{where}: value"),
                           _u64(a.get("valueTwo", 0), f"{where}: valueTwo")))
    indexes = [c.arg for c in conds]
    if len(set(indexes)) < len(indexes):
        return [(c,) for c in conds]
    return [tuple(conds)]


def _cond_code(c: _Cond, fail: object, ok: object, wide: bool) -> list[_Item]:
    """Fall through (to ``ok``) when the condition holds, jump to ``fail`` when not."""
    lo_off, hi_off = _OFF_ARGS + 8 * c.arg, _OFF_ARGS + 8 * c.arg + 4
    vh, vl = c.value >> 32, c.value & 0xFFFFFFFF
    lo: list[_Item] = [(_LD_W_ABS, 0, 0, lo_off)]
    if c.op == "SCMP_CMP_MASKED_EQ":
        wh, wl = c.value_two >> 32, c.value_two & 0xFFFFFFFF
        hi_part: list[_Item] = [(_LD_W_ABS, 0, 0, hi_off), (_ALU_AND_K, 0, 0, vh), _Jump(_JEQ, wh, None, fail)]
        return (hi_part if wide else []) + lo + [(_ALU_AND_K, 0, 0, vl), _Jump(_JEQ, wl, ok, fail)]
    if c.op in ("SCMP_CMP_EQ", "SCMP_CMP_NE"):
        yes, no = (ok, fail) if c.op == "SCMP_CMP_EQ" else (fail, ok)
        hi_part = [(_LD_W_ABS, 0, 0, hi_off), _Jump(_JEQ, vh, None, no)]
        return (hi_part if wide else []) + lo + [_Jump(_JEQ, vl, yes, no)]
    # Ordered comparisons: decide on the high words unless they are equal.
    strict = c.op in ("SCMP_CMP_GT", "SCMP_CMP_LE")
    above, below = (ok, fail) if c.op in ("SCMP_CMP_GT", "SCMP_CMP_GE") else (fail, ok)
    hi_part = [(_LD_W_ABS, 0, 0, hi_off), _Jump(_JGT, vh, above, None), _Jump(_JEQ, vh, None, below)]
    return (hi_part if wide else []) + lo + [_Jump(_JGT if strict else _JGE, vl, above, below)]


def _section(rules: Mapping[int, list[_Rule]], default: int, wide: bool, tag: str) -> list[_Item]:
    """The code for one architecture, with nr already in the accumulator: a binary search over runs of call
    numbers with the same outcome.

    Why a search and not a list of JEQs: when a filter is loaded the kernel runs it once for every call
    number of every architecture it knows (to cache the calls that are always allowed), with interrupts
    off, and every call it cannot cache runs it again. A list made each container's seccomp(2) cost ~1.4 ms
    of CPU; a search visits a handful of instructions per number instead of hundreds.
    """
    outcome: dict[int, tuple[Any, ...]] = {}
    for nr in sorted(rules):
        conditional = [r for r in rules[nr] if r.conds]
        fallback = next((r.action for r in rules[nr] if not r.conds), default)
        if conditional:
            outcome[nr] = ("block", nr, tuple(conditional), fallback)
        elif fallback != default:
            outcome[nr] = ("ret", fallback)
    runs: list[tuple[int, tuple[Any, ...]]] = []  # (first number, outcome), up to 2**32 - 1

    def add(first: int, what: tuple[Any, ...]) -> None:
        if not (runs and runs[-1][1] == what and what[0] == "ret"):
            runs.append((first, what))

    following = 0
    for nr in sorted(outcome):
        if nr > following:
            add(following, ("ret", default))
        add(nr, outcome[nr])
        following = nr + 1
    if following <= 0xFFFFFFFF:
        add(following, ("ret", default))

    items: list[_Item] = []

    def search(lo: int, hi: int) -> None:
        if hi - lo == 1:
            what = runs[lo][1]
            if what[0] == "ret":
                items.append((_RET_K, 0, 0, what[1]))
                return
            _, nr, conditional, fallback = what
            for i, rule in enumerate(conditional):
                fail = (tag, "fail", nr, i)
                for j, c in enumerate(rule.conds):
                    ok = (tag, "ok", nr, i, j)
                    items.extend(_cond_code(c, fail, ok, wide))
                    items.append(_Label(ok))
                items.extend([(_RET_K, 0, 0, rule.action), _Label(fail)])
            items.append((_RET_K, 0, 0, fallback))
            return
        mid = (lo + hi) // 2
        upper = (tag, "from", runs[mid][0])
        items.append(_Jump(_JGE, runs[mid][0], upper, None))
        search(lo, mid)
        items.append(_Label(upper))
        search(mid, hi)

    search(0, len(runs))
    return items


def compile_profile(profile: Mapping[str, Any], native: str = NATIVE_ARCH) -> Program:
    """Compile an OCI ``linux.seccomp`` dict; ``Invalid`` for anything malformed.

    Cached on the profile's canonical JSON, so a pod's containers, or a
    restart, compile once.
    """
    try:
        key = jsonbytes.dumps(profile, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise Invalid(f"seccomp: profile is not JSON data: {e}") from None
    return _compile(key, native)


# The name the runtime core calls; compile_profile says what it compiles.
compile = compile_profile  # noqa: A001


@functools.lru_cache(maxsize=64)
def _compile(key: bytes, native: str) -> Program:
    profile = json.loads(key)
    if not isinstance(profile, dict):
        raise Invalid("seccomp: the profile must be an object")
    default = _action(profile.get("defaultAction"), profile.get("defaultErrnoRet"), errno.EPERM, "defaultAction")
    flags = 0
    for flag in profile.get("flags") or ():
        if flag not in FLAGS:
            raise Invalid(f"seccomp: unknown flag {flag!r}")
        flags |= FLAGS[flag]
    arches: list[str] = [native] if native else []
    for arch in profile.get("architectures") or ():
        if arch not in AUDIT_ARCHES and arch not in _UNTABLED_ARCHES:
            raise Invalid(f"seccomp: unknown architecture {arch!r}")
        if arch in AUDIT_ARCHES and arch not in arches:
            arches.append(arch)

    rules: dict[str, dict[int, list[_Rule]]] = {arch: {} for arch in arches}
    for n, entry in enumerate(profile.get("syscalls") or ()):
        where = f"syscalls[{n}]"
        if not isinstance(entry, Mapping):
            raise Invalid(f"seccomp: {where} must be an object")
        names = entry.get("names") or ([entry["name"]] if entry.get("name") else [])
        if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
            raise Invalid(f"seccomp: {where}: names must be a list of strings")
        action = _action(entry.get("action"), entry.get("errnoRet"), errno.EPERM, where)
        alternatives = _conditions(entry.get("args"), where)
        for arch in arches:
            table = TABLES[arch]
            for name in names:
                nr = table.get(name)
                if nr is not None:
                    rules[arch].setdefault(nr, []).extend(_Rule(c, action) for c in alternatives)

    items: list[_Item] = [(_LD_W_ABS, 0, 0, _OFF_ARCH)]
    audits = sorted({AUDIT_ARCHES[a] for a in arches})
    items += [_Jump(_JEQ, audit, ("arch", audit), None) for audit in audits]
    items.append((_RET_K, 0, 0, RET_BAD_ARCH))
    for audit in audits:
        items += [_Label(("arch", audit)), (_LD_W_ABS, 0, 0, _OFF_NR)]
        if audit == AUDIT_ARCH_X86_64:
            x32 = ("x32", audit)
            items.append(_Jump(_JGE, X32_SYSCALL_BIT, x32, None))
            if "SCMP_ARCH_X86_64" in rules:
                items += _section(rules["SCMP_ARCH_X86_64"], default, True, "x86_64")
            else:
                items.append((_RET_K, 0, 0, RET_BAD_ARCH))
            items.append(_Label(x32))
            if "SCMP_ARCH_X32" in rules:
                items += _section(rules["SCMP_ARCH_X32"], default, True, "x32")
            else:
                items += [_Jump(_JEQ, 0xFFFFFFFF, None, ("badarch", audit)), (_RET_K, 0, 0, default),
                          _Label(("badarch", audit)), (_RET_K, 0, 0, RET_BAD_ARCH)]
        else:
            arch = next(a for a in arches if AUDIT_ARCHES[a] == audit)
            items += _section(rules[arch], default, audit != AUDIT_ARCH_I386, arch)
    program = _assemble(items)
    if len(program) > BPF_MAXINSNS:
        raise Invalid(f"seccomp: the profile compiles to {len(program)} instructions, "
                      f"more than the kernel's {BPF_MAXINSNS}")
    return Program(program, flags)


# --- installing -------------------------------------------------------------------------

SECCOMP_SET_MODE_FILTER = 1
SECCOMP_MODE_FILTER = 2
PR_SET_SECCOMP = 22
PR_GET_SECCOMP = 21
_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}.get(os.uname().machine, -1)
_libc = ctypes.CDLL(None, use_errno=True)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(program: Program) -> None:
    """Load the filter into the calling thread (all threads with SECCOMP_FILTER_FLAG_TSYNC).

    The caller must have set no_new_privs or hold CAP_SYS_ADMIN. Falls back to
    prctl(PR_SET_SECCOMP) when seccomp(2) is missing and no flags are asked for.
    """
    buf = ctypes.create_string_buffer(program.blob, len(program.blob))
    prog = _SockFprog(len(program), ctypes.cast(buf, ctypes.c_void_p))
    ret = int(_libc.syscall(ctypes.c_long(_SYS_SECCOMP), ctypes.c_ulong(SECCOMP_SET_MODE_FILTER),
                            ctypes.c_ulong(program.flags), ctypes.byref(prog)))
    err = ctypes.get_errno() if ret < 0 else 0
    if ret < 0 and err == errno.ENOSYS and program.flags == 0:
        ret = int(_libc.prctl(ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(SECCOMP_MODE_FILTER),
                              ctypes.byref(prog), ctypes.c_ulong(0), ctypes.c_ulong(0)))
        err = ctypes.get_errno() if ret < 0 else 0
    if ret < 0:
        hint = " (set no_new_privs first, or hold CAP_SYS_ADMIN)" if err == errno.EACCES else ""
        raise SystemFailure(f"installing the seccomp filter ({len(program)} instructions): "
                            f"{os.strerror(err)}{hint}")
    elif ret > 0 and program.flags & FLAGS["SECCOMP_FILTER_FLAG_TSYNC"]:
        raise SystemFailure(f"seccomp TSYNC: thread {ret} has a conflicting filter")


def mode() -> int:
    """0 (no filter), 1 (strict) or 2 (filter) for the calling thread."""
    return int(_libc.prctl(ctypes.c_int(PR_GET_SECCOMP), ctypes.c_ulong(0), ctypes.c_ulong(0),
                           ctypes.c_ulong(0), ctypes.c_ulong(0)))


# --- a BPF interpreter, to test and explain programs without a kernel -------------------

def evaluate(program: Program, nr: int, args: Sequence[int] = (), arch: int = AUDIT_ARCH_X86_64,
             ip: int = 0, trace: list[int] | None = None) -> int:
    """Run the program on one seccomp_data as the kernel would and return its SECCOMP_RET_* value
    (appending the address of each instruction it runs to ``trace``, if given)."""
    full = [a & 0xFFFFFFFFFFFFFFFF for a in args] + [0] * (6 - len(args))
    data = struct.pack("<iIQ6Q", nr if nr < 1 << 31 else nr - (1 << 32), arch, ip, *full)
    a, pc = 0, 0
    insns = program.instructions
    while True:
        code, jt, jf, k = insns[pc]
        if trace is not None:
            trace.append(pc)
        pc += 1
        if code == _LD_W_ABS:
            (a,) = struct.unpack_from("<I", data, k)
        elif code == _ALU_AND_K:
            a &= k
        elif code == _JA:
            pc += k
        elif code in (_JEQ, _JGT, _JGE, _JSET):
            hit = {_JEQ: a == k, _JGT: a > k, _JGE: a >= k, _JSET: bool(a & k)}[code]
            pc += jt if hit else jf
        elif code == _RET_K:
            return k
        else:
            raise ValueError(f"instruction {code:#x} is not one the compiler emits")


def describe(ret: int) -> str:
    """A SECCOMP_RET_* value as the OCI action that produces it: ``SCMP_ACT_ERRNO(1)``."""
    base = ret & 0xFFFF0000 if ret != RET_KILL_PROCESS else ret
    names = {v: k for k, v in ACTIONS.items() if k != "SCMP_ACT_KILL"}
    name = names.get(base, hex(ret))
    return f"{name}({ret & 0xFFFF})" if base in (RET_ERRNO, RET_TRACE) else name


# --- the default profile ----------------------------------------------------------------

# CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET, and CLONE_NEWTIME for unshare
# (in clone's flags that bit is part of the exit signal).
CLONE_NAMESPACES = 0x7E020000
UNSHARE_NAMESPACES = CLONE_NAMESPACES | 0x80
# personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26 variants, and the query.
SAFE_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
AF_VSOCK = 40


def default_profile(caps: Iterable[str] = capabilities.DEFAULT_CAPS) -> dict[str, Any]:
    """Docker's default profile, adapted: an allowlist (deny by default with EPERM).

    ``caps`` are the container's bounding capabilities: holding one unlocks the
    calls that need it (``syscall_table.ALLOW_WITH_CAP``), as in Docker. Without CAP_SYS_ADMIN,
    clone and unshare are allowed only without namespace flags, and clone3
    fails with ENOSYS -- its flags sit in memory a filter cannot read, and
    ENOSYS makes glibc and Go fall back to clone.
    """
    return json.loads(_default_json(frozenset(capabilities.normalize(c) for c in caps)))  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=16)
def _default_json(caps: frozenset[str]) -> str:
    allow = "SCMP_ACT_ALLOW"
    entries: list[dict[str, Any]] = [{"names": list(DEFAULT_ALLOW), "action": allow}]
    entries.append({"names": ["socket"], "action": allow,
                    "args": [{"index": 0, "value": AF_VSOCK, "op": "SCMP_CMP_NE"}]})
    entries += [{"names": ["personality"], "action": allow,
                 "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}]} for v in SAFE_PERSONALITIES]
    gated = sorted({name for cap in caps for name in ALLOW_WITH_CAP.get(cap, ())})
    if gated:
        entries.append({"names": gated, "action": allow})
    if "CAP_SYS_ADMIN" not in caps:
        for name, mask in (("clone", CLONE_NAMESPACES), ("unshare", UNSHARE_NAMESPACES)):
            entries.append({"names": [name], "action": allow,
                            "args": [{"index": 0, "value": mask, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]})
        entries.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS})
    arches = {"SCMP_ARCH_X86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
              "SCMP_ARCH_AARCH64": ["SCMP_ARCH_AARCH64"]}.get(NATIVE_ARCH, [])  # no arm32 table yet
    return json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.EPERM,
                       "architectures": arches, "syscalls": entries})
