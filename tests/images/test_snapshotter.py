"""The overlay snapshotter, mounted for real (root)."""

from __future__ import annotations

import multiprocessing as mp
import os
import stat
from pathlib import Path

import pytest

from kubelite.errors import AlreadyExists, Conflict, NotFound
from kubelite.images.builder import Entry, build
from kubelite.images.snapshotter import OverlaySnapshotter
from kubelite.images.store import ImageStore

from .conftest import mounts_under, small_layers

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("no_leaked_mounts")]


def image_with(store: ImageStore, name: str, layers: list[list[Entry]]) -> None:
    from kubelite.images.exporter import export

    digest = build(store.content, layers, {"Cmd": ["sh"]})
    export(store.content, [(f"docker.io/library/{name}", digest)], store.root / "tmp.tar")
    store.import_archive(store.root / "tmp.tar")
    (store.root / "tmp.tar").unlink()


def test_three_layer_whiteouts_through_a_real_overlay(store: ImageStore, tmp_path: Path) -> None:
    image_with(store, "wh:1", small_layers())
    img = store.get("wh:1")
    snap = OverlaySnapshotter(store.root)
    m = snap.prepare("c1", img)
    assert len(m.lowerdirs) == 3 and m.upperdir is not None and m.kind == "overlay"
    assert all(len(str(p.relative_to(store.root))) < 16 for p in m.lowerdirs)  # short numeric ids
    target = tmp_path / "rootfs"
    target.mkdir()
    snap.mount("c1", target)
    try:
        assert os.path.ismount(target)
        assert sorted(os.listdir(target / "etc")) == ["added", "keep"]  # layer 2 deleted etc/gone
        assert os.listdir(target / "data") == ["new"]  # layer 3 made data opaque
        assert (target / "bin/hello").read_text() == "hello\n"
        (target / "etc/keep").write_text("changed")  # copy-up into the container's upper dir
        (target / "bin/hello").unlink()
    finally:
        snap.unmount("c1")
    assert not os.path.ismount(target)
    assert (m.upperdir / "etc/keep").read_text() == "changed"
    assert stat.S_ISCHR(os.lstat(m.upperdir / "bin/hello").st_mode)
    assert (m.lowerdirs[-1] / "etc/keep").read_text() == "keep\n"  # shared layers untouched
    snap.unmount("c1")  # idempotent
    snap.remove("c1")
    snap.remove("c1")
    assert not m.upperdir.exists()


def test_layers_are_shared_and_gc_keeps_what_containers_use(store: ImageStore, tmp_path: Path) -> None:
    store.ensure_default()
    img = store.get("busybox")
    snap = OverlaySnapshotter(store.root)
    a, b = snap.prepare("a", img), snap.prepare("b", img)
    assert a.lowerdirs == b.lowerdirs and len(a.lowerdirs) == 1 and a.upperdir != b.upperdir
    with pytest.raises(AlreadyExists):
        snap.prepare("a", img)
    target = tmp_path / "mnt"
    target.mkdir()
    snap.mount("a", target)
    try:
        assert (target / "bin/busybox").exists() and os.readlink(target / "bin/sh") == "/bin/busybox"
        store.remove("busybox", force=True)  # layers stay while containers use them
        assert (target / "bin/busybox").exists()
    finally:
        snap.remove("a")  # unmounts too
    assert not os.path.ismount(target)
    assert a.lowerdirs[0].exists()
    snap.remove("b")
    store.gc()
    assert not a.lowerdirs[0].exists()
    assert snap.snapshots() == {}


def test_view_single_layer_is_a_read_only_bind(store: ImageStore, tmp_path: Path) -> None:
    image_with(store, "one:1", [[Entry("f", data=b"x")]])
    snap = OverlaySnapshotter(store.root)
    m = snap.view("v", store.get("one:1"))
    assert m.kind == "bind" and m.upperdir is None
    target = tmp_path / "v"
    target.mkdir()
    snap.mount("v", target)
    try:
        assert (target / "f").read_text() == "x"
        with pytest.raises(OSError):
            (target / "g").write_text("no")
    finally:
        snap.remove("v")
    with pytest.raises(NotFound):
        snap.mounts("v")


def test_many_layers_mount_with_relative_paths(store: ImageStore, tmp_path: Path) -> None:
    layers = [[Entry(f"f{i}", data=str(i).encode())] for i in range(80)]
    image_with(store, "tall:1", layers)
    snap = OverlaySnapshotter(store.root)
    m = snap.prepare("tall", store.get("tall:1"))
    assert len(m.options()) > os.sysconf("SC_PAGE_SIZE")
    target = tmp_path / "t"
    target.mkdir()
    snap.mount("tall", target)
    try:
        assert len(os.listdir(target)) == 80 and (target / "f79").read_text() == "79"
    finally:
        snap.unmount("tall")
        snap.remove("tall")


def _prepare(root: Path, key: str, q: mp.Queue[object]) -> None:
    try:
        snap = OverlaySnapshotter(root)
        m = snap.prepare(key, ImageStore(root).get("busybox"))
        q.put([str(p) for p in m.lowerdirs])
    except BaseException as e:  # report anything to the parent
        q.put(repr(e))


def test_concurrent_prepare_unpacks_once(store: ImageStore) -> None:
    store.ensure_default()
    ctx = mp.get_context("fork")
    q: mp.Queue[object] = ctx.Queue()
    procs = [ctx.Process(target=_prepare, args=(store.root, f"k{i}", q)) for i in range(4)]
    for p in procs:
        p.start()
    results = [q.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(10)
    assert all(isinstance(r, list) for r in results), results
    assert len({tuple(r) for r in results if isinstance(r, list)}) == 1
    snap = OverlaySnapshotter(store.root)
    kinds = [r["kind"] for r in snap.snapshots().values()]
    assert kinds.count("committed") == 1 and kinds.count("active") == 4
    assert not list((store.root / "snapshots").glob("tmp-*"))
    with pytest.raises(Conflict):
        snap.remove(next(k for k, r in snap.snapshots().items() if r["kind"] == "committed"))
    for i in range(4):
        snap.remove(f"k{i}")
    assert mounts_under(store.root) == []
