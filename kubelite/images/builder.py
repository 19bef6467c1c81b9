"""Build image layers and images from lists of entries or directory trees.

Reproducibility is the point: an image we build from the same inputs must get
the same digest every time, on every host (the default busybox image is built
on demand wherever kubelite runs, and tests compare digests). So layers are
PAX tars with fixed mtimes (unless the caller gives real ones), no user/group
names, entries in the order given (``entries_from_dir`` sorts), gzip with a
zero mtime and no file name in its header, and documents serialised one fixed
way by :mod:`manifest`. Whiteouts are just entries named ``.wh.<name>`` /
``.wh..wh..opq``, made with :func:`whiteout` and :func:`opaque`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from kubelite.errors import Invalid
from kubelite.images.content import ContentStore
from kubelite.images.manifest import (
    OCI_CONFIG,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    Descriptor,
    build_manifest,
    host_platform,
)

EPOCH = "1970-01-01T00:00:00Z"


@dataclass
class Entry:
    """One file system object of a layer; ``path`` is relative to the layer root."""

    path: str
    kind: str = "file"  # file, dir, symlink, hardlink, char, block, fifo
    data: bytes = b""
    source: Path | None = None  # take file contents from here instead of data
    target: str = ""  # symlink or hardlink target
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    major: int = 0
    minor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)


def whiteout(path: str) -> Entry:
    """An entry that deletes ``path`` from the layers below."""
    d, _, base = path.strip("/").rpartition("/")
    return Entry(f"{d}/.wh.{base}" if d else f".wh.{base}", mode=0o644)


def opaque(directory: str) -> Entry:
    """An entry that hides everything the layers below have in ``directory``."""
    d = directory.strip("/")
    return Entry(f"{d}/.wh..wh..opq" if d else ".wh..wh..opq", mode=0o644)


_TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
          "hardlink": tarfile.LNKTYPE, "char": tarfile.CHRTYPE, "block": tarfile.BLKTYPE,
          "fifo": tarfile.FIFOTYPE}
_DEFAULT_MODE = {"file": 0o644, "dir": 0o755, "symlink": 0o777}


def write_tar(entries: Iterable[Entry], out: IO[bytes]) -> None:
    """Write a layer tar of ``entries`` to ``out``."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            if e.kind not in _TYPES:
                raise Invalid(f"unknown entry kind {e.kind!r} for {e.path!r}")
            name = e.path.strip("/")
            if not name or ".." in name.split("/"):
                raise Invalid(f"bad layer entry path {e.path!r}")
            ti = tarfile.TarInfo(name + ("/" if e.kind == "dir" else ""))
            ti.type = _TYPES[e.kind]
            ti.mode = e.mode if e.mode is not None else _DEFAULT_MODE.get(e.kind, 0o644)
            ti.uid, ti.gid, ti.uname, ti.gname = e.uid, e.gid, "", ""
            ti.mtime = e.mtime
            ti.linkname = e.target
            ti.devmajor, ti.devminor = e.major, e.minor
            if e.xattrs:
                ti.pax_headers = {f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape")
                                  for k, v in sorted(e.xattrs.items())}
            if e.kind != "file":
                tf.addfile(ti)
            elif e.source is not None:
                with open(e.source, "rb") as f:
                    ti.size = os.fstat(f.fileno()).st_size
                    tf.addfile(ti, f)
            else:
                ti.size = len(e.data)
                tf.addfile(ti, io.BytesIO(e.data))


def entries_from_dir(root: Path, mtime: int | None = 0, owner: tuple[int, int] | None = (0, 0)) -> list[Entry]:
    """Entries for every object under ``root``, sorted; hardlinked files become hardlink entries.

    ``mtime``/``owner`` override what is on disk (None keeps the real values) for reproducible builds.
    """
    out: list[Entry] = []
    seen: dict[tuple[int, int], str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            st = os.lstat(p)
            uid, gid = owner if owner is not None else (st.st_uid, st.st_gid)
            e = Entry(rel, mode=stat.S_IMODE(st.st_mode), uid=uid, gid=gid,
                      mtime=int(st.st_mtime) if mtime is None else mtime)
            if stat.S_ISDIR(st.st_mode):
                e.kind = "dir"
            elif stat.S_ISLNK(st.st_mode):
                e.kind, e.target = "symlink", os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in seen:
                    e.kind, e.target = "hardlink", seen[key]
                else:
                    seen[key] = rel
                    e.source = Path(p)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                e.kind = "char" if stat.S_ISCHR(st.st_mode) else "block"
                e.major, e.minor = os.major(st.st_rdev), os.minor(st.st_rdev)
            elif stat.S_ISFIFO(st.st_mode):
                e.kind = "fifo"
            else:
                continue  # sockets do not belong in images
            out.append(e)
    return out


class _HashingWriter:
    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.h = hashlib.sha256()

    def write(self, b: bytes) -> int:
        self.h.update(b)
        return self.f.write(b)

    def flush(self) -> None:
        self.f.flush()


def add_layer(content: ContentStore, entries: Iterable[Entry], compress: bool = True) -> tuple[Descriptor, str]:
    """Write a layer into the content store; returns (its descriptor, its diff_id)."""
    content.ingest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=content.ingest_dir) as raw:
        hw = _HashingWriter(raw)
        write_tar(entries, hw)  # type: ignore[arg-type]
        diff_id = "sha256:" + hw.h.hexdigest()
        raw.seek(0)
        if not compress:
            digest, size = content.ingest(raw)
            return Descriptor(OCI_LAYER, digest, size), diff_id
        with tempfile.TemporaryFile(dir=content.ingest_dir) as gz:
            with gzip.GzipFile(filename="", fileobj=gz, mode="wb", mtime=0) as z:
                shutil.copyfileobj(raw, z, 1 << 20)
            gz.seek(0)
            digest, size = content.ingest(gz)
    return Descriptor(OCI_LAYER_GZIP, digest, size), diff_id


def image_config(diff_ids: list[str], config: dict[str, Any] | None = None, *, created: str = EPOCH,
                 history: list[dict[str, Any]] | None = None, arch: str | None = None) -> dict[str, Any]:
    """An OCI image config for ``diff_ids`` with the given container ``config`` (Cmd, Env, ...)."""
    os_name, host_arch = host_platform()
    return {"created": created, "architecture": arch or host_arch, "os": os_name,
            "config": dict(config or {}),
            "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
            "history": history or [{"created": created, "created_by": "kubelite build"} for _ in diff_ids]}


def add_image(content: ContentStore, layers: list[tuple[Descriptor, str]], config: dict[str, Any]) -> str:
    """Store the config and manifest of an image made of ``layers``; returns the manifest digest.

    ``config`` is a full image config; its rootfs.diff_ids are set from ``layers``.
    """
    import json

    cfg = dict(config)
    cfg["rootfs"] = {"type": "layers", "diff_ids": [d for _, d in layers]}
    cfg_bytes = json.dumps(cfg, separators=(",", ":"), sort_keys=True).encode()
    cfg_digest = content.write(cfg_bytes)
    manifest = build_manifest(Descriptor(OCI_CONFIG, cfg_digest, len(cfg_bytes)), [d for d, _ in layers],
                              OCI_MANIFEST)
    return content.write(manifest)


def build(content: ContentStore, layers: list[list[Entry]], config: dict[str, Any] | None = None,
          compress: bool = True) -> str:
    """Build an image from entry lists (bottom layer first); returns the manifest digest."""
    built = [add_layer(content, entries, compress) for entries in layers]
    return add_image(content, built, image_config([d for _, d in built], config))
