"""A content-addressed blob store: ``<root>/content/blobs/sha256/<hex>``.

Like containerd's content store, the digest *is* the name, so a blob is
verified both ways: on write we hash while ingesting and only rename the temp
file into place when the digest (and size, when known) match; on read the
:class:`VerifyingReader` hashes what passes through and raises at end of file
if the bytes on disk no longer match their name (disk corruption, or someone
editing a layer in place). Writes are atomic (temp file in ``content/ingest``
on the same filesystem, fsync, rename), so concurrent writers of the same blob
race harmlessly and readers never see a partial blob.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from kubelite.errors import Invalid, NotFound
from kubelite.images.manifest import check_digest, digest_hex

CHUNK = 1 << 20


class VerifyingReader:
    """A read-only stream over a blob that checks its digest when the end is reached."""

    def __init__(self, f: IO[bytes], digest: str, size: int) -> None:
        self._f = f
        self._digest = digest
        self._size = size
        self._h = hashlib.sha256()
        self._n = 0
        self._verified = False

    def read(self, n: int = -1) -> bytes:
        b = self._f.read(n)
        self._h.update(b)
        self._n += len(b)
        if (not b and n != 0) or n < 0 or self._n >= self._size:
            self._check_end()
        return b

    def _check_end(self) -> None:
        if self._verified:
            return
        if self._f.read(1) or self._n != self._size or "sha256:" + self._h.hexdigest() != self._digest:
            raise Invalid(f"blob {self._digest} is corrupt: content does not match its digest")
        self._verified = True

    def drain(self) -> None:
        """Read to the end (checking the digest) without keeping the bytes."""
        while self.read(CHUNK):
            pass
        self._check_end()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> VerifyingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ContentStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "content"
        self.blobs = self.root / "blobs" / "sha256"
        self.ingest_dir = self.root / "ingest"

    def path(self, digest: str) -> Path:
        return self.blobs / digest_hex(digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"blob not found: {digest}") from None

    def open(self, digest: str) -> VerifyingReader:
        """A stream of the blob that raises Invalid at end of file if it is corrupt."""
        p = self.path(digest)
        try:
            f = open(p, "rb")
        except FileNotFoundError:
            raise NotFound(f"blob not found: {digest}") from None
        return VerifyingReader(f, digest, os.fstat(f.fileno()).st_size)

    def read(self, digest: str) -> bytes:
        with self.open(digest) as r:
            data = r.read()
            r.drain()
            return data

    def verify(self, digest: str) -> None:
        with self.open(digest) as r:
            r.drain()

    def write(self, data: bytes, expected: str | None = None) -> str:
        """Store ``data``; returns its digest. Raises Invalid if it does not hash to ``expected``."""
        import io

        return self.ingest(io.BytesIO(data), expected, len(data))[0]

    def ingest(self, stream: IO[bytes] | VerifyingReader, expected: str | None = None,
               expected_size: int | None = None) -> tuple[str, int]:
        """Copy a stream into the store while hashing it; returns (digest, size)."""
        if expected is not None:
            check_digest(expected)
            if self.has(expected):
                # Already there: consume nothing more than we must, the caller may skip the stream.
                return expected, self.size(expected)
        self.ingest_dir.mkdir(parents=True, exist_ok=True)
        self.blobs.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.ingest_dir, prefix="ingest-")
        try:
            h = hashlib.sha256()
            n = 0
            with os.fdopen(fd, "wb") as out:
                while True:
                    b = stream.read(CHUNK)
                    if not b:
                        break
                    h.update(b)
                    n += len(b)
                    out.write(b)
                out.flush()
                os.fsync(out.fileno())
            digest = "sha256:" + h.hexdigest()
            if expected is not None and digest != expected:
                raise Invalid(f"content digest mismatch: expected {expected}, got {digest}")
            if expected_size is not None and n != expected_size:
                raise Invalid(f"content size mismatch for {digest}: expected {expected_size}, got {n}")
            os.chmod(tmp, 0o444)
            os.replace(tmp, self.path(digest))
            return digest, n
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

    def walk(self) -> Iterator[str]:
        if not self.blobs.is_dir():
            return
        for p in self.blobs.iterdir():
            if len(p.name) == 64:
                yield "sha256:" + p.name
