from __future__ import annotations

import json

import pytest

from kubelite.errors import Invalid
from kubelite.images import refs
from kubelite.images.manifest import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    Descriptor,
    chain_ids,
    parse_config,
    parse_index,
    parse_manifest,
    select_platform,
    sha256_digest,
)


@pytest.mark.parametrize(("ref", "full", "short"), [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("user/app:1.0", "docker.io/user/app:1.0", "user/app:1.0"),
    ("localhost:5000/x/y:tag", "localhost:5000/x/y:tag", "localhost:5000/x/y:tag"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("quay.io/a/b", "quay.io/a/b:latest", "quay.io/a/b:latest"),
    ("busybox@sha256:" + "a" * 64, "docker.io/library/busybox@sha256:" + "a" * 64, "busybox@sha256:" + "a" * 64),
])
def test_normalize(ref: str, full: str, short: str) -> None:
    assert refs.normalize(ref) == full
    assert refs.familiar_name(full) == short


@pytest.mark.parametrize("bad", ["", "Busybox", "a//b", "busybox:", "busybox@sha256:abc", "-x", "a:b:c"])
def test_invalid_references(bad: str) -> None:
    with pytest.raises(Invalid):
        refs.parse(bad)


def test_bare_tags() -> None:
    assert refs.is_bare_tag("latest") and refs.is_bare_tag("v1.2")
    assert not refs.is_bare_tag("busybox:latest") and not refs.is_bare_tag("a/b")


def test_chain_ids_follow_the_spec() -> None:
    a, b, c = (sha256_digest(x) for x in (b"a", b"b", b"c"))
    ab = sha256_digest(f"{a} {b}".encode())
    assert chain_ids([a, b, c]) == [a, ab, sha256_digest(f"{ab} {c}".encode())]
    assert chain_ids([]) == []


def _desc(data: bytes, mt: str, **extra: object) -> dict[str, object]:
    return {"mediaType": mt, "digest": sha256_digest(data), "size": len(data), **extra}


def test_docker_schema2_manifest_and_list_parse() -> None:
    m = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                    "config": _desc(b"{}", "application/vnd.docker.container.image.v1+json"),
                    "layers": [_desc(b"l", "application/vnd.docker.image.rootfs.diff.tar.gzip")]}).encode()
    pm = parse_manifest(m)
    assert pm.media_type == DOCKER_MANIFEST and len(pm.layers) == 1
    idx = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST_LIST, "manifests": [
        _desc(b"arm", DOCKER_MANIFEST, platform={"os": "linux", "architecture": "arm64"}),
        _desc(m, DOCKER_MANIFEST, platform={"os": "linux", "architecture": "amd64"})]}).encode()
    chosen = select_platform(parse_index(idx), ("linux", "amd64"))
    assert chosen.digest == sha256_digest(m)
    with pytest.raises(Invalid, match="no image manifest for linux/s390x"):
        select_platform(parse_index(idx), ("linux", "s390x"))


def test_malformed_documents_are_invalid() -> None:
    with pytest.raises(Invalid):
        parse_manifest(b"not json")
    with pytest.raises(Invalid):
        parse_manifest(json.dumps({"schemaVersion": 2, "config": {}, "layers": []}).encode())
    with pytest.raises(Invalid):
        parse_config(b'{"rootfs": {"diff_ids": ["md5:x"]}}')
    with pytest.raises(Invalid):
        Descriptor.from_json({"digest": "sha256:" + "0" * 64, "size": -1})
