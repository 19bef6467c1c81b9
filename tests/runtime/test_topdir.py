"""Directories of short-lived trees are marked for ext4's Orlov allocator (``chattr +T``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kubelite.runtime import topdir


def _supports_flags(path: Path) -> bool:
    return topdir.flags(path) is not None


def test_marks_an_existing_directory_and_creates_a_missing_one(tmp_path: Path) -> None:
    if not _supports_flags(tmp_path):
        pytest.skip("the test directory's filesystem has no inode flags")
    target = tmp_path / "a" / "containers"
    topdir.ensure_topdir(target)
    assert target.is_dir()
    flags = topdir.flags(target)
    if flags is not None and flags & topdir.FS_TOPDIR_FL == 0:
        pytest.skip("this filesystem does not keep the top-directory flag")
    assert flags is not None and flags & topdir.FS_TOPDIR_FL
    assert "T" in subprocess.run(["lsattr", "-d", str(target)], capture_output=True, text=True).stdout.split()[0]
    topdir.ensure_topdir(target)  # again: nothing changes, nothing fails
    assert topdir.flags(target) == flags


def test_a_directory_made_again_is_marked_again(tmp_path: Path) -> None:
    if not _supports_flags(tmp_path):
        pytest.skip("the test directory's filesystem has no inode flags")
    target = tmp_path / "sandboxes"
    topdir.ensure_topdir(target)
    target.rmdir()
    topdir.ensure_topdir(target)
    flags = topdir.flags(target)
    assert flags is not None and flags & topdir.FS_TOPDIR_FL


def test_filesystems_without_the_flag_are_left_alone(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.skip("no /dev/shm")
    d = shm / f"kubelite-topdir-{tmp_path.name}"
    try:
        topdir.ensure_topdir(d)  # tmpfs: no error, whatever it supports
        assert d.is_dir()
    finally:
        d.rmdir()
