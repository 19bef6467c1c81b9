from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubelite.errors import Conflict, Invalid, NotFound
from kubelite.images.builder import build
from kubelite.images.default_image import PATH_ENV
from kubelite.images.store import ImageStore

from .conftest import small_layers


def add_small(store: ImageStore, name: str = "small:1", cmd: str = "hello") -> str:
    digest = build(store.content, small_layers(), {"Cmd": [f"/bin/{cmd}"]})
    out = store.root / "in"
    from kubelite.images.exporter import export

    export(store.content, [("docker.io/library/" + name, digest)], out)
    assert store.import_archive(out) == [name]
    out.unlink()
    return digest


def test_ensure_default_is_idempotent_and_deterministic(tmp_path: Path) -> None:
    a, b = ImageStore(tmp_path / "a"), ImageStore(tmp_path / "b")
    assert a.ensure_default() == "busybox:latest"
    first = a.get("busybox")
    assert a.ensure_default() == "busybox:latest"
    assert [r.name for r in a.list()] == ["busybox:latest"]
    b.ensure_default()
    assert b.get("docker.io/library/busybox:latest").digest == first.digest
    cfg = first.config
    assert cfg["config"]["Cmd"] == ["sh"] and cfg["config"]["Env"] == [PATH_ENV]
    assert cfg["os"] == "linux" and cfg["architecture"] and first.platform.startswith("linux/")
    first.check_platform()
    with pytest.raises(Invalid, match="is for linux"):
        first.check_platform(("linux", "riscv128"))
    # ensure_default rebuilds after removal, to the same digest
    a.remove("busybox")
    assert a.list() == [] and list(a.content.walk()) == []
    a.ensure_default()
    assert a.get("busybox").digest == first.digest


def test_default_image_layer_contents(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    store.ensure_default()
    img = store.get("busybox:latest")
    from kubelite.images.unpack import apply_layer

    with store.content.open(img.layers[0].digest) as f:
        apply_layer(f, tmp_path / "fs", diff_id=img.diff_ids[0])
    fs = tmp_path / "fs"
    assert (fs / "bin/busybox").stat().st_mode & 0o111
    assert (fs / "bin/sh").readlink() == Path("/bin/busybox")
    assert (fs / "tmp").stat().st_mode & 0o7777 == 0o1777
    passwd = (fs / "etc/passwd").read_text()
    assert "root:x:0:0" in passwd and "nobody:x:65534:65534" in passwd and "user:x:1000:1000" in passwd
    assert "user:x:1000:" in (fs / "etc/group").read_text()
    for d in ("proc", "sys", "dev", "root", "home", "var"):
        assert (fs / d).is_dir()


def test_get_by_name_id_prefix_and_digest(store: ImageStore) -> None:
    digest = add_small(store)
    img = store.get("small:1")
    assert img.name == "small:1" and img.digest == digest and len(img.diff_ids) == 3
    assert img.config["config"]["Cmd"] == ["/bin/hello"]
    assert store.get("docker.io/library/small:1").id == img.id
    assert store.get(img.id).name == "small:1"
    assert store.get(img.id.removeprefix("sha256:")[:12]).name == "small:1"
    assert store.get(digest).name == "small:1"
    assert store.get(f"small@{digest}").name == "small:1"
    with pytest.raises(NotFound, match="^image not found: busybox2$"):
        store.get("busybox2")
    with pytest.raises(NotFound):
        store.get(f"other@{digest}")
    with pytest.raises(NotFound):
        store.get("small")  # small:latest does not exist


def test_tag_untag_and_garbage_collection(store: ImageStore) -> None:
    add_small(store)
    img = store.get("small:1")
    store.tag("small:1", "localhost:5000/x/y:tag")
    assert sorted(r.name for r in store.list()) == ["localhost:5000/x/y:tag", "small:1"]
    with pytest.raises(Conflict, match="multiple repositories"):
        store.remove(img.id)
    assert store.remove("small:1") == ["small:1"]
    assert store.get("localhost:5000/x/y:tag").id == img.id  # blobs still there
    store.ensure_default()
    assert store.remove("localhost:5000/x/y:tag") == ["localhost:5000/x/y:tag"]
    left = set(store.content.walk())
    assert img.digest not in left and img.id not in left
    assert not any(layer.digest in left for layer in img.layers)
    assert [r.name for r in store.list()] == ["busybox:latest"]
    with pytest.raises(NotFound):
        store.remove("small:1")
    with pytest.raises(Invalid):
        store.tag("busybox", "x@sha256:" + "a" * 64)


def test_remove_refuses_an_image_in_use(store: ImageStore) -> None:
    store.ensure_default()
    img = store.get("busybox")
    with pytest.raises(Conflict, match="being used by a container"):
        store.remove("busybox", in_use=lambda i: i == img.id)
    store.tag("busybox", "other")
    store.remove("busybox", in_use=lambda i: i == img.id)  # another name keeps it: just untag
    store.remove("other", force=True, in_use=lambda i: True)
    assert store.list() == []


def test_records_file_is_json_and_list_shape(store: ImageStore) -> None:
    store.ensure_default()
    doc = json.loads((store.root / "images/images.json").read_text())
    assert list(doc["images"]) == ["docker.io/library/busybox:latest"]
    (rec,) = store.list()
    assert rec.created == "1970-01-01T00:00:00Z" and rec.size > 500_000 and rec.id.startswith("sha256:")


def test_concurrent_writers_keep_every_name(tmp_path: Path) -> None:
    import multiprocessing as mp

    root = tmp_path / "root"
    s = ImageStore(root)
    s.ensure_default()
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_tag_many, args=(root, i)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert len(s.list()) == 1 + 4 * 10


def _tag_many(root: Path, i: int) -> None:
    s = ImageStore(root)
    for j in range(10):
        s.tag("busybox", f"t{i}:{j}")

