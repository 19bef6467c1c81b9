from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from kubelite.errors import Invalid
from kubelite.images.builder import Entry, opaque, whiteout, write_tar
from kubelite.images.unpack import apply_layer

from .conftest import small_layers


def tar_of(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    write_tar(entries, buf)
    return buf.getvalue()


def raw_tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for ti, data in members:
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_file_types_and_metadata(tmp_path: Path) -> None:
    entries = [Entry("d", "dir", mode=0o750, uid=12, gid=34, mtime=1000),
               Entry("d/f", data=b"data", mode=0o4755, uid=1000, gid=1000, mtime=2000,
                     xattrs={"user.k": b"v"}),
               Entry("d/link", "symlink", target="/etc/nowhere", mtime=3000),
               Entry("d/hard", "hardlink", target="d/f"),
               Entry("dev", "dir"), Entry("dev/null", "char", mode=0o666, major=1, minor=3),
               Entry("dev/loop9", "block", mode=0o660, major=7, minor=9),
               Entry("dev/fifo", "fifo", mode=0o600)]
    data = tar_of(entries)
    dest = tmp_path / "l"
    diff_id = apply_layer(io.BytesIO(gzip.compress(data)), dest)
    from kubelite.images.manifest import sha256_digest

    assert diff_id == sha256_digest(data)
    st = os.lstat(dest / "d")
    assert stat.S_IMODE(st.st_mode) == 0o750 and (st.st_uid, st.st_gid) == (12, 34) and st.st_mtime == 1000
    st = os.lstat(dest / "d/f")
    assert stat.S_IMODE(st.st_mode) == 0o4755 and st.st_uid == 1000 and st.st_mtime == 2000
    assert (dest / "d/f").read_bytes() == b"data"
    assert os.getxattr(dest / "d/f", "user.k") == b"v"
    assert os.readlink(dest / "d/link") == "/etc/nowhere" and os.lstat(dest / "d/link").st_mtime == 3000
    assert os.lstat(dest / "d/hard").st_ino == st.st_ino
    null = os.lstat(dest / "dev/null")
    assert stat.S_ISCHR(null.st_mode) and os.major(null.st_rdev) == 1 and os.minor(null.st_rdev) == 3
    assert stat.S_ISBLK(os.lstat(dest / "dev/loop9").st_mode)
    assert stat.S_ISFIFO(os.lstat(dest / "dev/fifo").st_mode)


def test_overlay_whiteouts(tmp_path: Path) -> None:
    _, second, third = small_layers()
    apply_layer(io.BytesIO(tar_of(second)), tmp_path / "2")
    wh = os.lstat(tmp_path / "2/etc/gone")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
    assert not (tmp_path / "2/etc/.wh.gone").exists()
    apply_layer(io.BytesIO(tar_of(third)), tmp_path / "3")
    assert os.getxattr(tmp_path / "3/data", "trusted.overlay.opaque") == b"y"
    assert os.listdir(tmp_path / "3/data") == ["new"]


def test_flattened_apply_deletes_from_lower_layers(tmp_path: Path) -> None:
    dest = tmp_path / "flat"
    for layer in small_layers():
        apply_layer(io.BytesIO(tar_of(layer)), dest, overlay=False)
    assert sorted(os.listdir(dest / "etc")) == ["added", "keep"]
    assert os.listdir(dest / "data") == ["new"]
    assert (dest / "bin/hello").read_bytes() == b"hello\n"


def test_opaque_keeps_what_the_same_layer_adds(tmp_path: Path) -> None:
    dest = tmp_path / "flat"
    apply_layer(io.BytesIO(tar_of([Entry("d", "dir"), Entry("d/old", data=b"")])), dest, overlay=False)
    apply_layer(io.BytesIO(tar_of([Entry("d", "dir"), Entry("d/new", data=b""), opaque("d")])), dest, overlay=False)
    assert os.listdir(dest / "d") == ["new"]
    apply_layer(io.BytesIO(tar_of([whiteout("d")])), dest, overlay=False)
    assert not (dest / "d").exists()


@pytest.mark.parametrize("name", ["/etc/passwd", "../escape", "a/../../escape", "./a/../../x"])
def test_path_traversal_is_rejected(tmp_path: Path, name: str) -> None:
    data = raw_tar([(tarfile.TarInfo(name), b"evil")])
    with pytest.raises(Invalid):
        apply_layer(io.BytesIO(data), tmp_path / "l")
    assert not (tmp_path / "escape").exists() and not (tmp_path / "x").exists()


def test_write_through_symlink_is_rejected(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    link = tarfile.TarInfo("esc")
    link.type, link.linkname = tarfile.SYMTYPE, str(outside)
    rel = tarfile.TarInfo("up")
    rel.type, rel.linkname = tarfile.SYMTYPE, ".."
    for second in ("esc/pwned", "up/pwned"):
        data = raw_tar([(link, b""), (rel, b""), (tarfile.TarInfo(second), b"evil")])
        with pytest.raises(Invalid, match="symlink"):
            apply_layer(io.BytesIO(data), tmp_path / "l", overlay=True)
    assert os.listdir(outside) == [] and not (tmp_path / "pwned").exists()


def test_hardlink_outside_the_layer_is_rejected(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s")
    for target in ("../secret", str(secret), "missing"):
        hl = tarfile.TarInfo("h")
        hl.type, hl.linkname = tarfile.LNKTYPE, target
        with pytest.raises(Invalid):
            apply_layer(io.BytesIO(raw_tar([(hl, b"")])), tmp_path / "l")


def test_diff_id_mismatch_and_garbage(tmp_path: Path) -> None:
    data = tar_of([Entry("f", data=b"x")])
    with pytest.raises(Invalid, match="diff_id"):
        apply_layer(io.BytesIO(data), tmp_path / "a", diff_id="sha256:" + "0" * 64)
    with pytest.raises(Invalid):
        apply_layer(io.BytesIO(gzip.compress(data)[:-10]), tmp_path / "b")
    with pytest.raises(Invalid):
        apply_layer(io.BytesIO(b"\x1f\x8bnot gzip at all" * 10), tmp_path / "c")
