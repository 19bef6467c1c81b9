"""Read images out of OCI layouts, oci-archives and ``docker save`` archives.

One reader for all of them: an archive is opened as a :class:`Source` (a
directory or a tar, compressed or not, read in place without extracting it to
disk) and the format is recognised from what it holds, not from its name: an
``oci-layout`` file means an OCI layout (docker 25+ writes one next to its
``manifest.json``, and we prefer it because it keeps the original manifest
digests); a ``manifest.json`` alone is a classic docker archive, for which we
synthesise an OCI manifest (deterministically, so loading it twice gives one
image). Every blob goes through the content store's verifying ingest, so a
damaged archive fails the import instead of producing a broken image.
"""

from __future__ import annotations

import json
import os
import posixpath
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from kubelite.errors import Invalid, NotFound
from kubelite.images import refs
from kubelite.images.content import ContentStore
from kubelite.images.manifest import (
    ANNOTATION_CONTAINERD_NAME,
    ANNOTATION_REF_NAME,
    DOCKER_FOREIGN_LAYER,
    OCI_CONFIG,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    Descriptor,
    build_manifest,
    digest_hex,
    is_index,
    load_json,
    media_type_of,
    parse_config,
    parse_index,
    parse_manifest,
    select_platform,
    sha256_digest,
)
from kubelite.images.unpack import GZIP_MAGIC, ZSTD_MAGIC


class Source(Protocol):
    def exists(self, rel: str) -> bool: ...
    def open(self, rel: str) -> IO[bytes]: ...
    def close(self) -> None: ...


class DirSource:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, rel: str) -> Path:
        p = (self.root / rel).resolve()
        if p != self.root and self.root not in p.parents:
            raise Invalid(f"archive path {rel!r} escapes {self.root}")
        return p

    def exists(self, rel: str) -> bool:
        return self._path(rel).is_file()

    def open(self, rel: str) -> IO[bytes]:
        try:
            return open(self._path(rel), "rb")
        except FileNotFoundError:
            raise Invalid(f"archive is missing {rel}") from None

    def close(self) -> None:
        pass


class TarSource:
    """Random access to the members of a tar (gzip/bz2/xz compressed tars work, more slowly)."""

    def __init__(self, path: Path) -> None:
        try:
            self.tf = tarfile.open(path, "r:*")
            self.members = {posixpath.normpath(m.name.lstrip("/")): m for m in self.tf.getmembers()}
        except (tarfile.TarError, EOFError, OSError):
            raise Invalid(f"{path}: not an OCI layout, oci-archive or docker archive (not a tar file)") from None

    def _member(self, rel: str, depth: int = 0) -> tarfile.TarInfo | None:
        m = self.members.get(posixpath.normpath(rel))
        if m is not None and m.issym() and depth < 8:
            return self._member(posixpath.join(posixpath.dirname(m.name), m.linkname), depth + 1)
        if m is not None and m.islnk() and depth < 8:
            return self._member(m.linkname, depth + 1)
        return m if m is not None and m.isreg() else None

    def exists(self, rel: str) -> bool:
        return self._member(rel) is not None

    def open(self, rel: str) -> IO[bytes]:
        m = self._member(rel)
        f = self.tf.extractfile(m) if m is not None else None
        if f is None:
            raise Invalid(f"archive is missing {rel}")
        return f

    def close(self) -> None:
        self.tf.close()


def open_source(path: Path) -> Source:
    if path.is_dir():
        return DirSource(path)
    if path.is_file():
        return TarSource(path)
    raise NotFound(f"no such file or directory: {path}")


def _read(src: Source, rel: str, limit: int = 64 << 20) -> bytes:
    with src.open(rel) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise Invalid(f"{rel} is too large for a JSON document")
    return data


@dataclass
class Imported:
    names: list[str]  # fully qualified references
    digest: str  # manifest digest


def _naming(ann: dict[str, str], name: str | None) -> list[str]:
    """Names for an index entry from its annotations and the caller's name (see module docs)."""
    ref = ann.get(ANNOTATION_REF_NAME)
    cname = ann.get(ANNOTATION_CONTAINERD_NAME)
    if ref and not refs.is_bare_tag(ref):
        return [refs.normalize(ref)]
    if ref:
        if name:
            r = refs.parse(name, default_tag=False)
            return [str(r) if r.tag or r.digest else str(r.with_tag(ref))]
        if cname:
            return [str(refs.parse(cname, default_tag=False).with_tag(ref))]
        return []
    if cname:
        return [refs.normalize(cname)]
    return [refs.normalize(name)] if name else []


def _ingest_descriptor(content: ContentStore, src: Source, d: Descriptor) -> None:
    if content.has(d.digest):
        return
    with src.open(f"blobs/sha256/{digest_hex(d.digest)}") as f:
        content.ingest(f, d.digest, d.size)


def _import_manifest(content: ContentStore, src: Source, d: Descriptor) -> str:
    """Copy one manifest (choosing the host platform from an index) and its blobs; returns its digest."""
    data = _read(src, f"blobs/sha256/{digest_hex(d.digest)}")
    if sha256_digest(data) != d.digest:
        raise Invalid(f"manifest {d.digest} in the archive does not match its digest")
    mt = d.media_type or media_type_of(data)
    if is_index(mt):
        return _import_manifest(content, src, select_platform(parse_index(data)))
    m = parse_manifest(data)
    _ingest_descriptor(content, src, m.config)
    parse_config(content.read(m.config.digest))
    for layer in m.layers:
        if layer.media_type == DOCKER_FOREIGN_LAYER and not src.exists(f"blobs/sha256/{digest_hex(layer.digest)}"):
            continue
        _ingest_descriptor(content, src, layer)
    content.write(data, d.digest)
    return d.digest


def _docker_manifest_names(src: Source) -> dict[str, list[str]]:
    """config digest -> RepoTags from a docker manifest.json (if there is one)."""
    if not src.exists("manifest.json"):
        return {}
    out: dict[str, list[str]] = {}
    for entry in _docker_entries(src):
        cfg = _read(src, entry["Config"])
        out.setdefault(sha256_digest(cfg), []).extend(entry.get("RepoTags") or [])
    return out


def _docker_entries(src: Source) -> list[dict[str, Any]]:
    try:
        doc = json.loads(_read(src, "manifest.json"))
    except ValueError as e:
        raise Invalid(f"manifest.json is not valid JSON: {e}") from None
    if not isinstance(doc, list) or not all(isinstance(e, dict) and isinstance(e.get("Config"), str)
                                            and isinstance(e.get("Layers"), list) for e in doc):
        raise Invalid("manifest.json is not a docker archive manifest")
    return doc


def import_oci_layout(content: ContentStore, src: Source, name: str | None) -> list[Imported]:
    layout = load_json(_read(src, "oci-layout"), "oci-layout")
    if "imageLayoutVersion" not in layout:
        raise Invalid("oci-layout has no imageLayoutVersion")
    index = parse_index(_read(src, "index.json"), "index.json")
    docker_names = _docker_manifest_names(src)
    out: list[Imported] = []
    for d in index.manifests:
        digest = _import_manifest(content, src, d)
        names = _naming(d.annotations, name)
        if not names and docker_names:
            cfg = parse_manifest(content.read(digest)).config.digest
            names = [refs.normalize(n) for n in docker_names.get(cfg, [])]
        out.append(Imported(names, digest))
    return out


def _layer_media_type(content: ContentStore, digest: str) -> str:
    with content.open(digest) as f:
        head = f.read(4)
    if head.startswith(GZIP_MAGIC):
        return OCI_LAYER_GZIP
    if head == ZSTD_MAGIC:
        return OCI_LAYER_ZSTD
    return OCI_LAYER


def import_docker_archive(content: ContentStore, src: Source, name: str | None) -> list[Imported]:
    out: list[Imported] = []
    for entry in _docker_entries(src):
        cfg_bytes = _read(src, entry["Config"])
        stem = posixpath.basename(entry["Config"]).removesuffix(".json")
        cfg_digest = sha256_digest(cfg_bytes)
        if len(stem) == 64 and cfg_digest != "sha256:" + stem:
            raise Invalid(f"{entry['Config']} does not match its digest")
        cfg = parse_config(cfg_bytes)
        diff_ids = cfg["rootfs"]["diff_ids"]
        if len(diff_ids) != len(entry["Layers"]):
            raise Invalid(f"{entry['Config']}: {len(diff_ids)} diff_ids but {len(entry['Layers'])} layers")
        content.write(cfg_bytes, cfg_digest)
        layers = []
        for rel, diff_id in zip(entry["Layers"], diff_ids, strict=True):
            with src.open(rel) as f:
                digest, size = content.ingest(f)
            mt = _layer_media_type(content, digest)
            if mt == OCI_LAYER and digest != diff_id:
                raise Invalid(f"layer {rel} does not match its diff_id {diff_id}")
            layers.append(Descriptor(mt, digest, size))
        manifest = build_manifest(Descriptor(OCI_CONFIG, cfg_digest, len(cfg_bytes)), layers, OCI_MANIFEST)
        digest = content.write(manifest)
        tags = [refs.normalize(t) for t in entry.get("RepoTags") or []]
        out.append(Imported(tags or ([refs.normalize(name)] if name else []), digest))
    return out


def read_archive(content: ContentStore, path: Path, name: str | None = None) -> list[Imported]:
    """Import every image of the archive or layout at ``path`` into ``content``."""
    src = open_source(path)
    try:
        if src.exists("oci-layout") and src.exists("index.json"):
            return import_oci_layout(content, src, name)
        if src.exists("manifest.json"):
            return import_docker_archive(content, src, name)
        raise Invalid(f"{os.fspath(path)}: not an OCI layout, oci-archive or docker archive")
    finally:
        src.close()
