from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from kubelite.errors import Invalid, NotFound
from kubelite.images.content import ContentStore
from kubelite.images.manifest import sha256_digest


def test_write_read_roundtrip(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    d = cs.write(b"hello")
    assert d == sha256_digest(b"hello")
    assert cs.path(d) == tmp_path / "content/blobs/sha256" / d.split(":")[1]
    assert cs.read(d) == b"hello" and cs.size(d) == 5 and cs.has(d)
    assert list(cs.walk()) == [d]
    assert os.listdir(cs.ingest_dir) == []


def test_corrupted_blob_is_detected_on_read(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    d = cs.write(b"x" * 100_000)
    p = cs.path(d)
    os.chmod(p, 0o644)
    with open(p, "r+b") as f:
        f.seek(5000)
        f.write(b"y")
    with pytest.raises(Invalid, match="corrupt"):
        cs.read(d)
    with pytest.raises(Invalid, match="corrupt"):
        cs.verify(d)
    with pytest.raises(Invalid, match="corrupt"), cs.open(d) as r:
        while r.read(4096):
            pass


def test_ingest_checks_expected_digest_and_size(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    with pytest.raises(Invalid, match="digest mismatch"):
        cs.ingest(io.BytesIO(b"abc"), sha256_digest(b"abd"))
    with pytest.raises(Invalid, match="size mismatch"):
        cs.ingest(io.BytesIO(b"abc"), None, 4)
    assert list(cs.walk()) == [] and os.listdir(cs.ingest_dir) == []
    d, n = cs.ingest(io.BytesIO(b"abc" * 1_000_000), None, 3_000_000)
    assert n == 3_000_000
    cs.verify(d)


def test_missing_and_malformed(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    with pytest.raises(NotFound, match="blob not found"):
        cs.read(sha256_digest(b"nope"))
    with pytest.raises(Invalid, match="invalid digest"):
        cs.read("sha256:../../etc/passwd")
