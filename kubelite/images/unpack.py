"""Apply a layer tarball to a directory, with OCI whiteouts.

Two modes, one walker. ``overlay=True`` (what the snapshotter uses) extracts a
layer into its own empty directory and turns OCI whiteouts into overlayfs ones
(``.wh.x`` becomes a 0/0 character device ``x``, ``.wh..wh..opq`` becomes the
``trusted.overlay.opaque=y`` xattr on its directory), so the kernel does the
deleting when the layer directories are stacked as lowerdirs. ``overlay=False``
applies the layer onto a tree that already holds the layers below, deleting
what the whiteouts name (a flattened rootfs, or a fallback without overlayfs).

The stream is read once, in order (``tarfile`` pipe mode), and the compressed
digest and the uncompressed diff_id are both checked as the bytes go by, so an
unpacked layer is known to be exactly the layer its image names. Names are
untrusted: absolute paths, ``..`` components, and any entry whose parent is a
symlink are rejected with Invalid instead of being written outside the tree.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import importlib
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import IO, Any

from kubelite.errors import Invalid, SystemFailure

WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class _Peek:
    """A stream whose first bytes can be looked at before reading starts."""

    def __init__(self, f: Any) -> None:
        self._f = f
        self._head = b""

    def peek(self, n: int) -> bytes:
        while len(self._head) < n:
            b = self._f.read(n - len(self._head))
            if not b:
                break
            self._head += b
        return self._head[:n]

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0:
                out = self._head + self._f.read()
                self._head = b""
                return bytes(out)
            out, self._head = self._head[:n], self._head[n:]
            if len(out) < n:
                out += self._f.read(n - len(out))
            return bytes(out)
        return bytes(self._f.read(n))


class _Hashing:
    """Pass-through reader that hashes the (uncompressed) tar stream for the diff_id check."""

    def __init__(self, f: Any) -> None:
        self._f = f
        self.h = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        b: bytes = self._f.read(n)
        self.h.update(b)
        return b


def decompressed(stream: Any) -> Any:
    """Wrap a layer stream so that reading it yields the tar bytes, whatever the compression."""
    p = _Peek(stream)
    head = p.peek(4)
    if head.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=p, mode="rb")  # type: ignore[call-overload]
    if head == ZSTD_MAGIC:
        try:
            zstd: Any = importlib.import_module("zstandard")
        except ImportError:
            raise Invalid("zstd-compressed layers need the 'zstandard' Python package") from None
        return zstd.ZstdDecompressor().stream_reader(p)
    return p


def _safe_name(name: str) -> str:
    """Normalised relative path of a tar entry; Invalid if it tries to leave the tree."""
    if name.startswith("/"):
        raise Invalid(f"layer entry {name!r} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise Invalid(f"layer entry {name!r} escapes the layer directory")
    return "/".join(parts)


class _Applier:
    def __init__(self, root: Path, overlay: bool) -> None:
        self.root = root
        self.overlay = overlay
        self.dir_times: dict[str, tuple[int, int]] = {}
        self.created: set[str] = set()  # entries this layer wrote (a whiteout never hides them)

    def path(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else str(self.root)

    def check_parents(self, rel: str) -> None:
        cur = str(self.root)
        for comp in rel.split("/")[:-1]:
            cur = os.path.join(cur, comp)
            try:
                st = os.lstat(cur)
            except FileNotFoundError:
                os.mkdir(cur, 0o755)
                self.created.add(os.path.relpath(cur, self.root))
                continue
            if stat.S_ISLNK(st.st_mode):
                raise Invalid(f"layer entry {rel!r} goes through the symlink {os.path.relpath(cur, self.root)!r}")
            if not stat.S_ISDIR(st.st_mode):
                raise Invalid(f"layer entry {rel!r}: {os.path.relpath(cur, self.root)!r} is not a directory")

    def remove(self, p: str) -> None:
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(p)
        else:
            os.unlink(p)

    def whiteout(self, rel_dir: str, base: str) -> None:
        d = self.path(rel_dir)
        if base == WHITEOUT_OPAQUE:
            os.makedirs(d, exist_ok=True)
            if self.overlay:
                os.setxattr(d, OVERLAY_OPAQUE_XATTR, b"y")
            else:
                for child in os.listdir(d):
                    if os.path.join(rel_dir, child).lstrip("/") not in self.created:
                        self.remove(os.path.join(d, child))
            return
        if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # other AUFS metadata (.wh..wh.plnk and friends): not content
        name = base[len(WHITEOUT_PREFIX):]
        if not name or name in (".", ".."):
            raise Invalid(f"bad whiteout {base!r} in {rel_dir or '/'}")
        target = os.path.join(d, name)
        if self.overlay:
            self.remove(target)
            os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        elif os.path.join(rel_dir, name).lstrip("/") not in self.created:
            self.remove(target)

    def entry(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        rel = _safe_name(m.name)
        if not rel:
            if m.isdir():
                self.dir_times[""] = (m.mode, int(m.mtime))
            return
        self.check_parents(rel)
        rel_dir, _, base = rel.rpartition("/")
        if base.startswith(WHITEOUT_PREFIX):
            try:
                self.whiteout(rel_dir, base)
            except PermissionError:
                raise SystemFailure(f"cannot create the overlay whiteout for {rel!r}: not permitted "
                                    "(unpacking needs root)") from None
            return
        p = self.path(rel)
        try:
            existing = os.lstat(p)
        except FileNotFoundError:
            existing = None
        if existing is not None and not (m.isdir() and stat.S_ISDIR(existing.st_mode)):
            self.remove(p)
        if m.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(p, 0o700)
        elif m.isreg():
            src = tf.extractfile(m)
            assert src is not None
            with open(p, "xb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        elif m.issym():
            os.symlink(m.linkname, p)
        elif m.islnk():
            target_rel = _safe_name(m.linkname)
            target = self.path(target_rel)
            real_root = os.path.realpath(self.root)
            inside = os.path.commonpath([os.path.realpath(os.path.dirname(target)), real_root]) == real_root
            if not target_rel or not inside or not os.path.lexists(target) or os.path.isdir(target):
                raise Invalid(f"layer entry {rel!r} hardlinks to {m.linkname!r} which is not in the layer")
            os.link(target, p, follow_symlinks=False)
            self.created.add(rel)
            return  # a hard link shares the inode's metadata; nothing more to set
        elif m.ischr() or m.isblk() or m.isfifo():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
            try:
                os.mknod(p, kind | (m.mode & 0o7777), os.makedev(m.devmajor, m.devminor))
            except PermissionError:
                raise SystemFailure(f"cannot create device {rel!r}: not permitted (unpacking needs root)") from None
        else:
            return  # sparse/contiguous/unknown types: skip like other runtimes
        self.created.add(rel)
        self.metadata(p, m)
        if m.isdir():
            self.dir_times[rel] = (m.mode, int(m.mtime))

    def metadata(self, p: str, m: tarfile.TarInfo) -> None:
        try:
            os.lchown(p, m.uid, m.gid)
        except PermissionError:
            pass  # rootless: keep our own ids
        for k, v in m.pax_headers.items():
            if k.startswith("SCHILY.xattr."):
                try:
                    os.setxattr(p, k[len("SCHILY.xattr."):], v.encode("utf-8", "surrogateescape"),
                                follow_symlinks=False)
                except OSError as e:
                    if e.errno not in (errno.ENOTSUP, errno.EPERM, errno.EOPNOTSUPP):
                        raise
        if not m.issym():
            os.chmod(p, m.mode & 0o7777)
            if not m.isdir():
                os.utime(p, (m.mtime, m.mtime))
        else:
            os.utime(p, (m.mtime, m.mtime), follow_symlinks=False)

    def finish(self) -> None:
        # Directory mtimes last: writing their children changed them.
        for rel, (_mode, mtime) in sorted(self.dir_times.items(), key=lambda kv: -len(kv[0])):
            os.utime(self.path(rel), (mtime, mtime))


def apply_layer(stream: IO[bytes] | Any, dest: Path, *, overlay: bool = True,
                diff_id: str | None = None) -> str:
    """Unpack one layer from ``stream`` (compressed or not) into ``dest``; returns its diff_id.

    With ``diff_id`` given, a layer whose uncompressed bytes hash differently is rejected.
    Reading the stream to its end also lets a verifying stream check the compressed digest.
    """
    dest.mkdir(parents=True, exist_ok=True)
    tar_stream = _Hashing(decompressed(stream))
    applier = _Applier(dest, overlay)
    try:
        with tarfile.open(fileobj=tar_stream, mode="r|") as tf:  # type: ignore[call-overload]
            for m in tf:
                applier.entry(tf, m)
    except tarfile.TarError as e:
        raise Invalid(f"layer is not a valid tar archive: {e}") from None
    except (EOFError, gzip.BadGzipFile) as e:
        raise Invalid(f"layer is truncated or badly compressed: {e}") from None
    # Hash the tar padding too: the diff_id covers every byte of the uncompressed stream.
    while tar_stream.read(1 << 20):
        pass
    while stream.read(1 << 20):
        pass
    applier.finish()
    got = "sha256:" + tar_stream.h.hexdigest()
    if diff_id is not None and got != diff_id:
        raise Invalid(f"layer content does not match its diff_id: expected {diff_id}, got {got}")
    return got
