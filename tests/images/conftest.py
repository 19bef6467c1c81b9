"""Fixtures for the image tests: a store rooted in tmp_path, and mount hygiene.

Every test that mounts gets ``no_leaked_mounts``: after the test, anything
still mounted under its tmp_path is unmounted (lazily) and the test fails, so
a leak is both cleaned up and reported.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubelite.images.builder import Entry
from kubelite.images.store import ImageStore


def mounts_under(root: Path) -> list[str]:
    out = []
    prefix = str(root.resolve())
    with open("/proc/self/mountinfo") as f:
        for line in f:
            target = line.split()[4].replace("\\040", " ")
            if target == prefix or target.startswith(prefix + "/"):
                out.append(target)
    return out


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "root")


@pytest.fixture
def no_leaked_mounts(tmp_path: Path) -> Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip("needs root for mount(2)")
    yield
    leaked = mounts_under(tmp_path)
    for target in sorted(leaked, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False)
    assert not leaked, f"test leaked mounts: {leaked}"


def small_layers() -> list[list[Entry]]:
    """Three layers: a base, one that deletes a file, one that makes a directory opaque."""
    from kubelite.images.builder import opaque, whiteout

    base = [Entry("bin", "dir"), Entry("bin/hello", data=b"hello\n", mode=0o755),
            Entry("etc", "dir"), Entry("etc/keep", data=b"keep\n"), Entry("etc/gone", data=b"gone\n"),
            Entry("data", "dir"), Entry("data/old1", data=b"1"), Entry("data/sub", "dir"),
            Entry("data/sub/old2", data=b"2")]
    second = [Entry("etc", "dir"), whiteout("etc/gone"), Entry("etc/added", data=b"added\n")]
    third = [Entry("data", "dir"), opaque("data"), Entry("data/new", data=b"new\n")]
    return [base, second, third]
