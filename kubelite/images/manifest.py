"""OCI and Docker image documents: media types, descriptors, parsing, digests.

We keep the documents as the JSON the registry or archive gave us and only
*read* them through these helpers: a manifest's digest is the sha256 of its
exact bytes, so re-serialising would change the identity of the image. Docker
v2 schema2 manifests and manifest lists are the same shapes as OCI manifests
and indexes under other media type names, so one parser handles both and
callers ask "is this an index?" rather than "which spec is this?".

Chain ids (the snapshotter's key for "these layers applied in this order")
follow the OCI image spec: ``chain(L0) = diff_id(L0)``,
``chain(L0..n) = sha256(chain(L0..n-1) + " " + diff_id(Ln))``.
"""

from __future__ import annotations

import hashlib
import json
import platform as _platform
import re
from dataclasses import dataclass, field
from typing import Any

from kubelite.errors import Invalid

OCI_LAYOUT_VERSION = "1.0.0"

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
LAYER_TYPES = frozenset({OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, OCI_LAYER_NONDIST_GZIP,
                         DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_FOREIGN_LAYER,
                         "application/vnd.oci.image.layer.nondistributable.v1.tar",
                         "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"})

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"

_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is a well-formed sha256 digest, else raise Invalid."""
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise Invalid(f"invalid digest {digest!r}: expected sha256:<64 hex digits>")
    return digest


def digest_hex(digest: str) -> str:
    return check_digest(digest).split(":", 1)[1]


def chain_ids(diff_ids: list[str]) -> list[str]:
    """Chain id of every prefix of the layer stack, bottom layer first."""
    out: list[str] = []
    for d in diff_ids:
        check_digest(d)
        out.append(d if not out else sha256_digest(f"{out[-1]} {d}".encode()))
    return out


def host_platform() -> tuple[str, str]:
    """(os, architecture) of this host in OCI/GOARCH spelling."""
    m = _platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
            "i686": "386", "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}
    return "linux", arch.get(m, m)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    platform: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, d: Any, what: str = "descriptor") -> Descriptor:
        if not isinstance(d, dict):
            raise Invalid(f"{what}: expected an object")
        size = d.get("size")
        if not isinstance(size, int) or size < 0:
            raise Invalid(f"{what}: size must be a non-negative integer")
        ann = d.get("annotations") or {}
        if not isinstance(ann, dict):
            raise Invalid(f"{what}: annotations must be an object")
        plat = d.get("platform")
        return cls(media_type=str(d.get("mediaType", "")), digest=check_digest(d.get("digest", "")),
                   size=size, annotations={str(k): str(v) for k, v in ann.items()},
                   platform=plat if isinstance(plat, dict) else None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            out["platform"] = dict(self.platform)
        return out


@dataclass(frozen=True)
class Manifest:
    media_type: str
    config: Descriptor
    layers: list[Descriptor]
    annotations: dict[str, str]


@dataclass(frozen=True)
class Index:
    media_type: str
    manifests: list[Descriptor]
    annotations: dict[str, str]


def load_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise Invalid(f"{what} is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise Invalid(f"{what} is not a JSON object")
    return doc


def media_type_of(data: bytes, what: str = "document") -> str:
    """The media type of a manifest or index, from its own field or guessed from its shape."""
    doc = load_json(data, what)
    mt = doc.get("mediaType")
    if isinstance(mt, str) and mt:
        return mt
    if "manifests" in doc:
        return OCI_INDEX
    if "layers" in doc and "config" in doc:
        return OCI_MANIFEST
    raise Invalid(f"{what} is neither an image manifest nor an index")


def is_index(media_type: str) -> bool:
    return media_type in INDEX_TYPES


def parse_manifest(data: bytes, what: str = "manifest") -> Manifest:
    doc = load_json(data, what)
    mt = media_type_of(data, what)
    if mt not in MANIFEST_TYPES:
        raise Invalid(f"{what}: unsupported media type {mt!r}")
    if doc.get("schemaVersion") != 2:
        raise Invalid(f"{what}: schemaVersion must be 2")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise Invalid(f"{what}: layers must be a list")
    config = Descriptor.from_json(doc.get("config"), f"{what} config")
    return Manifest(media_type=mt, config=config,
                    layers=[Descriptor.from_json(x, f"{what} layer {i}") for i, x in enumerate(layers)],
                    annotations=dict(doc.get("annotations") or {}))


def parse_index(data: bytes, what: str = "index") -> Index:
    doc = load_json(data, what)
    mt = media_type_of(data, what)
    if mt not in INDEX_TYPES:
        raise Invalid(f"{what}: unsupported media type {mt!r}")
    if doc.get("schemaVersion") != 2:
        raise Invalid(f"{what}: schemaVersion must be 2")
    ms = doc.get("manifests")
    if not isinstance(ms, list):
        raise Invalid(f"{what}: manifests must be a list")
    return Index(media_type=mt, manifests=[Descriptor.from_json(x, f"{what} entry {i}") for i, x in enumerate(ms)],
                 annotations=dict(doc.get("annotations") or {}))


def parse_config(data: bytes, what: str = "image config") -> dict[str, Any]:
    doc = load_json(data, what)
    rootfs = doc.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise Invalid(f"{what}: rootfs.diff_ids missing")
    for d in rootfs["diff_ids"]:
        check_digest(d)
    if not isinstance(doc.get("config", {}) or {}, dict):
        raise Invalid(f"{what}: config must be an object")
    return doc


def select_platform(index: Index, want: tuple[str, str] | None = None) -> Descriptor:
    """The manifest of an index for this host's platform (or the only one there is)."""
    want = want or host_platform()
    manifests = [m for m in index.manifests if m.media_type in MANIFEST_TYPES or not m.media_type]
    for m in manifests:
        p = m.platform or {}
        if (p.get("os"), p.get("architecture")) == want:
            return m
    unplatformed = [m for m in manifests if not m.platform]
    if len(unplatformed) == 1:
        return unplatformed[0]
    if len(manifests) == 1:
        return manifests[0]
    raise Invalid(f"no image manifest for {want[0]}/{want[1]} in the index "
                  f"({', '.join(platform_string(m.platform or {}) for m in manifests) or 'empty'})")


def platform_string(p: dict[str, Any]) -> str:
    s = f"{p.get('os', '?')}/{p.get('architecture', '?')}"
    return s + (f"/{p['variant']}" if p.get("variant") else "")


def build_manifest(config: Descriptor, layers: list[Descriptor], media_type: str = OCI_MANIFEST,
                   annotations: dict[str, str] | None = None) -> bytes:
    """Serialise a manifest the one way we always do (so equal inputs give equal digests)."""
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type, "config": config.to_json(),
                           "layers": [x.to_json() for x in layers]}
    if annotations:
        doc["annotations"] = dict(annotations)
    return json.dumps(doc, separators=(",", ":")).encode()


def build_index(manifests: list[Descriptor]) -> bytes:
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [m.to_json() for m in manifests]}
    return json.dumps(doc, separators=(",", ":")).encode()
