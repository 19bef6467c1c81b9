"""Import/export round trips, and interop with skopeo and umoci in both directions."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from kubelite.errors import Invalid
from kubelite.images.builder import Entry, build
from kubelite.images.exporter import export
from kubelite.images.store import ImageStore
from kubelite.images.unpack import apply_layer

from .conftest import small_layers

needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")
needs_umoci = pytest.mark.skipif(shutil.which("umoci") is None, reason="umoci not installed")


@pytest.fixture
def small(store: ImageStore, tmp_path: Path) -> str:
    """A 3-layer image named small:1 in ``store``; returns its manifest digest."""
    digest = build(store.content, small_layers(), {"Cmd": ["/bin/hello"], "WorkingDir": "/data"})
    export(store.content, [("docker.io/library/small:1", digest)], tmp_path / "seed.tar")
    store.import_archive(tmp_path / "seed.tar")
    return digest


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout


def rootfs_of(store: ImageStore, name: str, dest: Path) -> Path:
    img = store.get(name)
    for layer, diff_id in zip(img.layers, img.diff_ids, strict=True):
        with store.content.open(layer.digest) as f:
            apply_layer(f, dest, overlay=False, diff_id=diff_id)
    return dest


@pytest.mark.parametrize("fmt", ["oci-archive", "oci-dir", "docker-archive"])
def test_round_trip(store: ImageStore, small: str, tmp_path: Path, fmt: str) -> None:
    store.ensure_default()
    out = tmp_path / f"out.{fmt}"
    store.export(["small:1", "busybox"], out, fmt)
    other = ImageStore(tmp_path / "other")
    assert sorted(other.import_archive(out)) == ["busybox:latest", "small:1"]
    for name in ("small:1", "busybox:latest"):
        a, b = store.get(name), other.get(name)
        assert (a.id, a.diff_ids, a.config) == (b.id, b.diff_ids, b.config)
        if fmt != "docker-archive":
            assert a.digest == b.digest  # blobs copied byte for byte
    flat = rootfs_of(other, "small:1", tmp_path / "flat")
    assert sorted(os.listdir(flat / "etc")) == ["added", "keep"] and os.listdir(flat / "data") == ["new"]
    # importing twice is harmless and gives the same image
    assert sorted(other.import_archive(out)) == ["busybox:latest", "small:1"]
    assert len(other.list()) == 2


def test_export_is_reproducible_and_atomic(store: ImageStore, small: str, tmp_path: Path) -> None:
    store.export(["small:1"], tmp_path / "a.tar")
    store.export(["small:1"], tmp_path / "b.tar")
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    with pytest.raises(Invalid):
        store.export(["small:1"], tmp_path / "c.tar", "tarball")
    assert sorted(os.listdir(tmp_path)) == ["a.tar", "b.tar", "root", "seed.tar"]


def test_corrupt_archive_is_rejected(store: ImageStore, small: str, tmp_path: Path) -> None:
    store.export(["small:1"], tmp_path / "dir", "oci-dir")
    img = store.get("small:1")
    blob = tmp_path / "dir/blobs/sha256" / img.layers[0].digest.split(":")[1]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    other = ImageStore(tmp_path / "other")
    with pytest.raises(Invalid, match="digest mismatch"):
        other.import_archive(tmp_path / "dir")
    assert other.list() == []
    with pytest.raises(Invalid, match="not an OCI layout"):
        other.import_archive(tmp_path / "root" / "images" / "images.json")


def test_old_style_docker_save_archive_gzipped(tmp_path: Path) -> None:
    """What docker < 25 writes: <id>/layer.tar (with symlinks for repeated layers), <hex>.json, repositories."""
    layers = []
    for content in (b"one", b"two"):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            ti = tarfile.TarInfo(f"file-{content.decode()}")
            ti.size = len(content)
            tf.addfile(ti, io.BytesIO(content))
        layers.append(buf.getvalue())
    diff_ids = ["sha256:" + hashlib.sha256(x).hexdigest() for x in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/file-one"]},
                         "rootfs": {"type": "layers", "diff_ids": [*diff_ids, diff_ids[0]]}}).encode()
    cfg_hex = hashlib.sha256(config).hexdigest()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        def add(name: str, data: bytes) -> None:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))

        add("aaa/layer.tar", layers[0])
        add("bbb/layer.tar", layers[1])
        link = tarfile.TarInfo("ccc/layer.tar")
        link.type, link.linkname = tarfile.SYMTYPE, "../aaa/layer.tar"
        tf.addfile(link)
        add(f"{cfg_hex}.json", config)
        add("manifest.json", json.dumps([{"Config": f"{cfg_hex}.json", "RepoTags": ["legacy:v1", "legacy:v2"],
                                          "Layers": ["aaa/layer.tar", "bbb/layer.tar", "ccc/layer.tar"]}]).encode())
        add("repositories", json.dumps({"legacy": {"v1": "ccc", "v2": "ccc"}}).encode())
    archive = tmp_path / "legacy.tar.gz"
    archive.write_bytes(gzip.compress(buf.getvalue()))
    store = ImageStore(tmp_path / "root")
    assert store.import_archive(archive) == ["legacy:v1", "legacy:v2"]
    img = store.get("legacy:v2")
    assert img.id == "sha256:" + cfg_hex and len(img.layers) == 3 and img.config["config"]["Cmd"] == ["/file-one"]
    assert sorted(os.listdir(rootfs_of(store, "legacy:v1", tmp_path / "fs"))) == ["file-one", "file-two"]


@needs_skopeo
def test_skopeo_reads_what_we_write(store: ImageStore, small: str, tmp_path: Path) -> None:
    store.export(["small:1"], tmp_path / "o.tar")
    store.export(["small:1"], tmp_path / "d.tar", "docker-archive")
    store.export(["small:1"], tmp_path / "dir", "oci-dir")
    img = store.get("small:1")
    for ref in (f"oci-archive:{tmp_path}/o.tar", f"oci-archive:{tmp_path}/o.tar:1", f"oci:{tmp_path}/dir:1"):
        info = json.loads(run("skopeo", "inspect", ref))
        assert info["Digest"] == img.digest and len(info["Layers"]) == 3
    info = json.loads(run("skopeo", "inspect", f"docker-archive:{tmp_path}/d.tar"))
    assert info["Layers"] == img.diff_ids
    cfg = json.loads(run("skopeo", "inspect", "--config", f"docker-archive:{tmp_path}/d.tar"))
    assert cfg["config"]["Cmd"] == ["/bin/hello"]
    run("skopeo", "copy", "-q", f"oci-archive:{tmp_path}/o.tar", f"oci:{tmp_path}/copy:x")
    index = json.loads((tmp_path / "copy/index.json").read_text())
    assert index["manifests"][0]["digest"] == img.digest


@needs_skopeo
def test_we_import_what_skopeo_writes(store: ImageStore, small: str, tmp_path: Path) -> None:
    src = tmp_path / "o.tar"
    store.export(["small:1"], src)
    img = store.get("small:1")
    other = ImageStore(tmp_path / "other")
    # docker-archive (old style, symlinked layer.tar) with a name
    run("skopeo", "copy", "-q", f"oci-archive:{src}", f"docker-archive:{tmp_path}/d.tar:foo/bar:v1")
    assert other.import_archive(tmp_path / "d.tar") == ["foo/bar:v1"]
    assert other.get("foo/bar:v1").id == img.id
    # oci-archive whose ref.name is a full reference
    run("skopeo", "copy", "-q", f"oci-archive:{src}", f"oci-archive:{tmp_path}/o2.tar:localhost:5000/x/y:v2")
    assert other.import_archive(tmp_path / "o2.tar") == ["localhost:5000/x/y:v2"]
    # oci layout whose ref.name is a bare tag: needs a name from the caller
    run("skopeo", "copy", "-q", f"oci-archive:{src}", f"oci:{tmp_path}/lay:stable")
    with pytest.raises(Invalid, match="no name"):
        other.import_archive(tmp_path / "lay")
    assert other.import_archive(tmp_path / "lay", name="myimg") == ["myimg:stable"]
    assert other.get("myimg:stable").digest == img.digest


@needs_umoci
def test_umoci_unpacks_what_we_write(store: ImageStore, small: str, tmp_path: Path) -> None:
    store.export(["small:1"], tmp_path / "lay", "oci-dir")
    run("umoci", "unpack", "--rootless", "--image", f"{tmp_path}/lay:1", str(tmp_path / "bundle"))
    fs = tmp_path / "bundle/rootfs"
    assert sorted(os.listdir(fs / "etc")) == ["added", "keep"]
    assert os.listdir(fs / "data") == ["new"]
    assert (fs / "bin/hello").read_bytes() == b"hello\n"
    spec = json.loads((tmp_path / "bundle/config.json").read_text())
    assert spec["process"]["args"] == ["/bin/hello"] and spec["process"]["cwd"] == "/data"


@needs_umoci
def test_we_import_what_umoci_writes(tmp_path: Path) -> None:
    lay = tmp_path / "lay"
    run("umoci", "init", "--layout", str(lay))
    run("umoci", "new", "--image", f"{lay}:t")
    run("umoci", "config", "--image", f"{lay}:t", "--config.cmd", "/greet")
    bundle = tmp_path / "b"
    run("umoci", "unpack", "--rootless", "--image", f"{lay}:t", str(bundle))
    (bundle / "rootfs/greet").write_text("hi")
    run("umoci", "repack", "--image", f"{lay}:t", str(bundle))
    store = ImageStore(tmp_path / "root")
    assert store.import_archive(lay, name="umoci/img") == ["umoci/img:t"]
    img = store.get("umoci/img:t")
    assert img.config["config"]["Cmd"] == ["/greet"]
    assert (rootfs_of(store, "umoci/img:t", tmp_path / "fs") / "greet").read_text() == "hi"


def test_multi_platform_index_picks_the_host(store: ImageStore, tmp_path: Path) -> None:
    from kubelite.images.manifest import OCI_INDEX, host_platform, sha256_digest

    digest = build(store.content, [[Entry("f", data=b"x")]])
    export(store.content, [("docker.io/library/mp:1", digest)], tmp_path / "lay", "oci-dir")
    lay = tmp_path / "lay"
    index = json.loads((lay / "index.json").read_text())
    desc = index["manifests"][0]
    ann = desc.pop("annotations")
    os_name, arch = host_platform()
    inner = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {**desc, "digest": "sha256:" + "1" * 64, "platform": {"os": "linux", "architecture": "mips"}},
        {**desc, "platform": {"os": os_name, "architecture": arch}}]}).encode()
    (lay / "blobs/sha256" / sha256_digest(inner).split(":")[1]).write_bytes(inner)
    index["manifests"] = [{"mediaType": OCI_INDEX, "digest": sha256_digest(inner), "size": len(inner),
                           "annotations": ann}]
    (lay / "index.json").write_text(json.dumps(index))
    other = ImageStore(tmp_path / "other")
    assert other.import_archive(lay) == ["mp:1"]
    assert other.get("mp:1").digest == digest


def test_docker25_archive_names_from_manifest_json(store: ImageStore, small: str, tmp_path: Path) -> None:
    """A docker 25+ save whose index carries no names: RepoTags of manifest.json name the images."""
    store.export(["small:1"], tmp_path / "d", "oci-dir")
    lay = tmp_path / "d"
    index = json.loads((lay / "index.json").read_text())
    for m in index["manifests"]:
        m.pop("annotations")
    (lay / "index.json").write_text(json.dumps(index))
    img = store.get("small:1")
    (lay / "manifest.json").write_text(json.dumps([{
        "Config": f"blobs/sha256/{img.id.split(':')[1]}", "RepoTags": ["named/by:docker"],
        "Layers": [f"blobs/sha256/{x.digest.split(':')[1]}" for x in img.layers]}]))
    other = ImageStore(tmp_path / "other")
    assert other.import_archive(lay) == ["named/by:docker"]
    assert other.get("named/by:docker").digest == img.digest
