"""Write images as an OCI layout directory, an oci-archive, or a docker archive.

The OCI forms copy our blobs byte for byte (same manifest digests on the other
side) and name each manifest the way containerd and docker 25+ do:
``io.containerd.image.name`` carries the full reference and
``org.opencontainers.image.ref.name`` the tag, which is what ``skopeo`` and
``umoci`` select with ``oci-archive:FILE:latest``.

The docker archive is the docker 25+ shape, an OCI layout plus
``manifest.json`` and ``repositories``, which every ``docker load`` (old ones
read only the latter two) and skopeo accept. Docker expects uncompressed layer
tars there, so compressed layers are decompressed on the way out and the OCI
manifest in that archive is rebuilt to name them. Archives are written to a
temp file next to the target and renamed, with fixed mtimes, so a failed export
leaves nothing behind and equal images give byte-equal archives.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import IO, Protocol

from kubelite.errors import AlreadyExists, Invalid
from kubelite.images import refs
from kubelite.images.content import ContentStore
from kubelite.images.manifest import (
    ANNOTATION_CONTAINERD_NAME,
    ANNOTATION_REF_NAME,
    OCI_CONFIG,
    OCI_LAYER,
    OCI_LAYOUT_VERSION,
    OCI_MANIFEST,
    Descriptor,
    build_index,
    build_manifest,
    digest_hex,
    media_type_of,
    parse_config,
    parse_manifest,
    sha256_digest,
)
from kubelite.images.unpack import decompressed

FORMATS = ("oci-archive", "docker-archive", "oci-dir")


class Sink(Protocol):
    def add_bytes(self, rel: str, data: bytes) -> None: ...
    def add_file(self, rel: str, f: IO[bytes], size: int) -> None: ...


class DirSink:
    def __init__(self, root: Path) -> None:
        self.root = root

    def add_bytes(self, rel: str, data: bytes) -> None:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)

    def add_file(self, rel: str, f: IO[bytes], size: int) -> None:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as out:
            shutil.copyfileobj(f, out, 1 << 20)


class TarSink:
    def __init__(self, tf: tarfile.TarFile) -> None:
        self.tf = tf
        self.dirs: set[str] = set()

    def _info(self, rel: str, size: int) -> tarfile.TarInfo:
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.dirs:
                self.dirs.add(d)
                di = tarfile.TarInfo(d + "/")
                di.type, di.mode, di.mtime = tarfile.DIRTYPE, 0o755, 0
                self.tf.addfile(di)
        ti = tarfile.TarInfo(rel)
        ti.size, ti.mode, ti.mtime = size, 0o644, 0
        return ti

    def add_bytes(self, rel: str, data: bytes) -> None:
        import io

        self.tf.addfile(self._info(rel, len(data)), io.BytesIO(data))

    def add_file(self, rel: str, f: IO[bytes], size: int) -> None:
        self.tf.addfile(self._info(rel, size), f)


def _blob(content: ContentStore, sink: Sink, digest: str, done: set[str]) -> None:
    if digest in done:
        return
    done.add(digest)
    with content.open(digest) as f:
        sink.add_file(f"blobs/sha256/{digest_hex(digest)}", f, content.size(digest))  # type: ignore[arg-type]


def _annotations(full_name: str) -> dict[str, str]:
    r = refs.parse(full_name)
    ann = {ANNOTATION_CONTAINERD_NAME: full_name}
    if r.tag:
        ann[ANNOTATION_REF_NAME] = r.tag
    return ann


def write_oci(content: ContentStore, images: list[tuple[str, str]], sink: Sink) -> None:
    """``images`` are (full name, manifest digest) pairs."""
    done: set[str] = set()
    entries = []
    for name, digest in images:
        data = content.read(digest)
        m = parse_manifest(data)
        for d in [m.config, *m.layers]:
            _blob(content, sink, d.digest, done)
        _blob(content, sink, digest, done)
        entries.append(Descriptor(media_type_of(data), digest, len(data), _annotations(name)))
    sink.add_bytes("oci-layout", json.dumps({"imageLayoutVersion": OCI_LAYOUT_VERSION}).encode())
    sink.add_bytes("index.json", build_index(entries))


def _uncompressed_layer(content: ContentStore, d: Descriptor, diff_id: str, sink: Sink, tmpdir: Path,
                        done: set[str]) -> Descriptor:
    if diff_id in done:
        return Descriptor(OCI_LAYER, diff_id, -1)
    with content.open(d.digest) as f, tempfile.TemporaryFile(dir=tmpdir) as tmp:
        shutil.copyfileobj(decompressed(f), tmp, 1 << 20)
        f.drain()
        size = tmp.tell()
        tmp.seek(0)
        done.add(diff_id)
        sink.add_file(f"blobs/sha256/{digest_hex(diff_id)}", tmp, size)
    return Descriptor(OCI_LAYER, diff_id, size)


def write_docker(content: ContentStore, images: list[tuple[str, str]], sink: Sink, tmpdir: Path) -> None:
    done: set[str] = set()
    sizes: dict[str, int] = {}
    entries, manifest_json = [], []
    repositories: dict[str, dict[str, str]] = {}
    for name, digest in images:
        m = parse_manifest(content.read(digest))
        cfg_bytes = content.read(m.config.digest)
        diff_ids: list[str] = parse_config(cfg_bytes)["rootfs"]["diff_ids"]
        _blob(content, sink, m.config.digest, done)
        layers = []
        for d, diff_id in zip(m.layers, diff_ids, strict=True):
            ld = _uncompressed_layer(content, d, diff_id, sink, tmpdir, done)
            sizes.setdefault(diff_id, ld.size)
            layers.append(Descriptor(OCI_LAYER, diff_id, sizes[diff_id]))
        manifest = build_manifest(Descriptor(OCI_CONFIG, m.config.digest, len(cfg_bytes)), layers, OCI_MANIFEST)
        mdigest = sha256_digest(manifest)
        if mdigest not in done:
            done.add(mdigest)
            sink.add_bytes(f"blobs/sha256/{digest_hex(mdigest)}", manifest)
        entries.append(Descriptor(OCI_MANIFEST, mdigest, len(manifest), _annotations(name)))
        short = refs.familiar_name(name)
        manifest_json.append({"Config": f"blobs/sha256/{digest_hex(m.config.digest)}", "RepoTags": [short],
                              "Layers": [f"blobs/sha256/{digest_hex(x)}" for x in diff_ids]})
        repo, _, tag = short.rpartition(":")
        if diff_ids:
            repositories.setdefault(repo, {})[tag] = digest_hex(diff_ids[-1])
    sink.add_bytes("oci-layout", json.dumps({"imageLayoutVersion": OCI_LAYOUT_VERSION}).encode())
    sink.add_bytes("index.json", build_index(entries))
    sink.add_bytes("manifest.json", json.dumps(manifest_json).encode())
    sink.add_bytes("repositories", json.dumps(repositories).encode())


def export(content: ContentStore, images: list[tuple[str, str]], path: Path, fmt: str = "oci-archive") -> None:
    if fmt not in FORMATS:
        raise Invalid(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
    if not images:
        raise Invalid("nothing to export")
    path = Path(path)
    parent = path.parent.resolve()
    if fmt == "oci-dir":
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise AlreadyExists(f"{path} exists and is not an empty directory")
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{path.name}."))
        try:
            write_oci(content, images, DirSink(tmp))
            if path.exists():
                path.rmdir()
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return
    fd, tmpname = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tf:
            if fmt == "oci-archive":
                write_oci(content, images, TarSink(tf))
            else:
                content.ingest_dir.mkdir(parents=True, exist_ok=True)
                write_docker(content, images, TarSink(tf), content.ingest_dir)
        os.chmod(tmpname, 0o644)
        os.replace(tmpname, path)
    except BaseException:
        if os.path.exists(tmpname):
            os.unlink(tmpname)
        raise
