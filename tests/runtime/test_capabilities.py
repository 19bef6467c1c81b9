"""Capabilities, set for real in forked children (root only) and read back from /proc."""

from __future__ import annotations

import ctypes
import os
import socket
from typing import Any

import pytest

from kubelite.errors import Invalid
from kubelite.runtime import capabilities as caps
from tests.runtime.forking import in_child

root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
CLONE_NEWUTS = 0x04000000
DEFAULT = set(caps.DEFAULT_CAPS)




def sets() -> dict[str, list[str]]:
    return {k: sorted(v) for k, v in caps.current().items()}


def test_names_and_numbers() -> None:
    assert caps.number("CAP_CHOWN") == 0
    assert caps.number("CAP_SYS_ADMIN") == 21
    assert caps.number("CAP_CHECKPOINT_RESTORE") == 40
    assert caps.normalize("net_admin") == "CAP_NET_ADMIN"
    assert len(caps.NAMES) == 41 and caps.NAMES[caps.NUMBERS["CAP_BPF"]] == "CAP_BPF"
    with open("/proc/sys/kernel/cap_last_cap") as f:
        assert caps.last_cap() == int(f.read())
    with pytest.raises(Invalid):
        caps.number("CAP_WIZARDRY")
    assert len(caps.DEFAULT_CAPS) == 14 and all(n in caps.NUMBERS for n in caps.DEFAULT_CAPS)


def test_current_reads_all_five_sets() -> None:
    cur = caps.current()
    assert set(cur) == {"bounding", "effective", "permitted", "inheritable", "ambient"}
    if os.geteuid() == 0:
        assert "CAP_SYS_ADMIN" in cur["bounding"]


@root
def test_unknown_names_are_rejected_before_any_change() -> None:
    def child() -> dict[str, Any]:
        before = sets()
        try:
            caps.apply({"bounding": ["CAP_CHOWN"], "effective": ["CAP_NOT_A_CAP"]})
        except Invalid as e:
            return {"error": str(e), "unchanged": sets() == before}
        return {}

    status, out = in_child(child)
    assert status == 0, out
    assert out["ok"]["unchanged"] and "CAP_NOT_A_CAP" in out["ok"]["error"]
    with pytest.raises(Invalid):
        caps.apply({"bounding": [], "wishful": []})


@root
def test_apply_docker_defaults() -> None:
    def child() -> dict[str, Any]:
        caps.apply({k: list(caps.DEFAULT_CAPS) for k in ("bounding", "effective", "permitted")})
        return sets()

    status, out = in_child(child)
    assert status == 0, out
    assert out["ok"] == {"bounding": sorted(DEFAULT), "effective": sorted(DEFAULT), "permitted": sorted(DEFAULT),
                         "inheritable": [], "ambient": []}


@root
def test_without_sys_admin_sethostname_fails() -> None:
    libc = ctypes.CDLL(None, use_errno=True)

    def child() -> list[str]:
        if libc.unshare(CLONE_NEWUTS) != 0:  # our own UTS namespace: the host's name is never touched
            raise OSError(ctypes.get_errno(), "unshare")
        socket.sethostname("kubelite-before")
        caps.apply({k: list(caps.DEFAULT_CAPS) for k in ("bounding", "effective", "permitted")})
        try:
            socket.sethostname("kubelite-after")
        except PermissionError:
            return [socket.gethostname(), "EPERM"]
        return [socket.gethostname(), "allowed"]

    status, out = in_child(child)
    assert status == 0, out
    assert out["ok"] == ["kubelite-before", "EPERM"]


@root
def test_setuid_with_keepcaps_and_ambient() -> None:
    """The runtime core's order: bounding while root, switch user, then the other sets."""
    wanted = ["CAP_NET_BIND_SERVICE", "CAP_KILL"]

    def child() -> dict[str, Any]:
        caps.drop_bounding(caps.DEFAULT_CAPS)
        caps.switch_user(1000, 1000, [])
        after_switch = sets()
        caps.apply({"bounding": list(caps.DEFAULT_CAPS), "effective": wanted, "permitted": wanted,
                    "inheritable": wanted, "ambient": ["CAP_NET_BIND_SERVICE"]})
        caps.no_new_privs()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.dup2(w, 1)
            os.execv("/bin/busybox", ["busybox", "grep", "^Cap\\|^Uid\\|^NoNewPrivs", "/proc/self/status"])
        os.close(w)
        text = os.read(r, 4096).decode()
        os.waitpid(pid, 0)
        return {"uid": os.getresuid(), "after_switch": after_switch, "applied": sets(),
                "exec": dict(line.split(":\t", 1) for line in text.splitlines())}

    status, out = in_child(child)
    assert status == 0, out
    got = out["ok"]
    assert got["uid"] == [1000, 1000, 1000]
    # keep-caps kept the permitted set (the bounding set limits only what execve grants).
    assert got["after_switch"]["effective"] == [] and DEFAULT <= set(got["after_switch"]["permitted"])
    assert got["after_switch"]["bounding"] == sorted(DEFAULT)
    assert got["applied"]["effective"] == sorted(wanted)
    assert got["applied"]["ambient"] == ["CAP_NET_BIND_SERVICE"]
    # After execve a non-root process keeps exactly its ambient set.
    bit = f"{1 << caps.NUMBERS['CAP_NET_BIND_SERVICE']:016x}"
    assert got["exec"]["CapEff"] == bit and got["exec"]["CapAmb"] == bit and got["exec"]["CapPrm"] == bit
    assert got["exec"]["NoNewPrivs"] == "1"


@root
def test_caps_the_kernel_does_not_know_are_skipped() -> None:
    def child() -> dict[str, Any]:
        # Pretend to be Linux 5.8, whose last capability is CAP_PERFMON.
        pytest.MonkeyPatch().setattr(caps, "last_cap", lambda: caps.NUMBERS["CAP_PERFMON"])
        caps.apply({"bounding": list(caps.NAMES), "effective": ["CAP_CHOWN", "CAP_BPF"],
                    "permitted": ["CAP_CHOWN", "CAP_BPF"]})
        return sets()

    status, out = in_child(child)
    assert status == 0, out
    assert out["ok"]["effective"] == ["CAP_CHOWN"]


@root
def test_no_new_privs() -> None:
    def child() -> list[bool]:
        before = caps.has_no_new_privs()
        caps.no_new_privs()
        return [before, caps.has_no_new_privs()]

    status, out = in_child(child)
    assert status == 0, out
    assert out["ok"] == [False, True]
