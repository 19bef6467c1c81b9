"""The rootfs logic against a recording fake: which mounts, in which order, and where."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubelite.errors import Invalid
from kubelite.runtime import spec as oci
from kubelite.runtime import syscalls as sc
from kubelite.runtime.rootfs import RootfsBuilder, parse_options, secure_join


class RecordingSyscalls:
    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int = 0,
              data: str | None = None) -> None:
        self.calls.append(("mount", source, target, fstype, flags, data))

    def umount(self, target: str, flags: int = 0) -> None:
        self.calls.append(("umount", target, flags))

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self.calls.append(("pivot_root", new_root, put_old))

    def unshare(self, flags: int) -> None:
        self.calls.append(("unshare", flags))

    def setns(self, fd: int, nstype: int = 0) -> None:
        self.calls.append(("setns", fd, nstype))

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        return 0


def test_secure_join_keeps_symlinks_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "abs")
    os.symlink("../../../../etc/passwd", root / "etc" / "escape")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    assert secure_join(str(root), "/abs/hosts") == str(root / "etc" / "hosts")
    assert secure_join(str(root), "/etc/escape") == str(root / "etc" / "passwd")
    assert secure_join(str(root), "/../../x") == str(root / "x")
    with pytest.raises(Invalid):
        secure_join(str(root), "/loop1/x")


def test_parse_options() -> None:
    flags, prop, data = parse_options(["nosuid", "noexec", "ro", "mode=755", "size=64k", "rslave"])
    assert flags == sc.MS_NOSUID | sc.MS_NOEXEC | sc.MS_RDONLY
    assert prop == sc.MS_SLAVE | sc.MS_REC
    assert data == "mode=755,size=64k"
    assert parse_options(["ro", "rw"])[0] == 0


def test_prepare_mounts_spec_in_order_under_rootfs(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    spec = oci.default_spec()
    spec["mounts"] = [m for m in spec["mounts"] if m["type"] != "cgroup"]
    src = tmp_path / "data"
    src.mkdir()
    spec["mounts"].append({"destination": "/data", "type": "bind", "source": str(src), "options": ["rbind", "ro"]})
    fake = RecordingSyscalls()
    builder = RootfsBuilder(spec, str(rootfs), sys=fake)
    builder.prepare()
    mounts = [c for c in fake.calls if c[0] == "mount"]
    assert mounts[0] == ("mount", None, "/", None, sc.MS_SLAVE | sc.MS_REC, None)
    assert mounts[1] == ("mount", str(rootfs), str(rootfs), None, sc.MS_BIND | sc.MS_REC, None)
    targets = [c[2] for c in mounts[2:]]
    assert targets[:6] == [str(rootfs / p) for p in ("proc", "dev", "dev/pts", "dev/shm", "dev/mqueue", "sys")]
    # a read-only bind mount is a bind followed by a read-only remount
    assert ("mount", str(src), str(rootfs / "data"), None, sc.MS_BIND | sc.MS_REC, None) in mounts
    assert ("mount", None, str(rootfs / "data"), None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_REC | sc.MS_RDONLY,
            None) in mounts
    # devices and /dev symlinks were made in the new /dev
    assert os.path.islink(rootfs / "dev" / "ptmx") and os.readlink(rootfs / "dev" / "ptmx") == "pts/ptmx"
    assert os.major(os.stat(rootfs / "dev" / "null").st_rdev) == 1


def test_missing_bind_source_is_invalid(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    spec = oci.default_spec()
    spec["mounts"] = [{"destination": "/x", "type": "bind", "source": "/nonexistent-src", "options": ["bind"]}]
    with pytest.raises(Invalid, match="does not exist"):
        RootfsBuilder(spec, str(rootfs), sys=RecordingSyscalls()).prepare()


def test_finish_masks_and_protects(tmp_path: Path) -> None:
    spec = oci.default_spec()
    spec["linux"]["maskedPaths"] = [str(tmp_path / "dir"), str(tmp_path / "file"), str(tmp_path / "absent")]
    spec["linux"]["readonlyPaths"] = [str(tmp_path / "dir")]
    spec["root"]["readonly"] = True
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    fake = RecordingSyscalls()
    RootfsBuilder(spec, "/unused", sys=fake).finish()
    calls = fake.calls
    assert ("mount", "tmpfs", str(tmp_path / "dir"), "tmpfs", sc.MS_RDONLY, None) in calls
    assert ("mount", "/dev/null", str(tmp_path / "file"), None, sc.MS_BIND, None) in calls
    assert not any(c[2] == str(tmp_path / "absent") for c in calls)
    assert calls[-1] == ("mount", None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC, None)
