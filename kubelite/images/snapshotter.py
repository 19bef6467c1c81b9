"""The overlay snapshotter: containerd's Prepare/View/Commit/Remove over overlayfs.

Each layer is unpacked exactly once, into ``<root>/snapshots/<n>/fs`` keyed by
its chain id, and shared read-only as an overlay lowerdir by every container
that uses it; a container's snapshot (``prepare``) is just a new ``<n>/fs``
upperdir and ``<n>/work`` workdir on top. Ids are short integers because the
kernel takes all overlay options in one page: forty layers of long paths do
not fit, forty ``/var/lib/kubelite/snapshots/12/fs`` do (and past a page we
mount with relative paths from a forked child that chdir'ed into
``snapshots/``, as containerd does).

Records live in ``snapshots/metadata.json`` under an flock. Unpacking is safe
with concurrent kubelite processes: a per-chain-id lock makes the second one
wait and then find the layer committed, and a layer is unpacked into a temp
directory that is renamed into place only when complete and verified, so a
crash never leaves a half layer that looks committed. ``remove`` and
``unmount`` of something that is not there are no-ops, so cleanup paths can
call them unconditionally.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelite.errors import AlreadyExists, Conflict, NotFound, SystemFailure
from kubelite.images._files import locked, read_json, write_json
from kubelite.images.content import ContentStore
from kubelite.images.image import Image
from kubelite.images.manifest import digest_hex
from kubelite.images.unpack import apply_layer
from kubelite.paths import data_root
from kubelite.runtime.syscalls import SYSCALLS
from kubelite.runtime.topdir import ensure_topdir

MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MNT_DETACH = 0x2
_PAGE = os.sysconf("SC_PAGE_SIZE")


def is_mounted(path: str) -> bool:
    """Whether something is mounted on ``path`` (os.path.ismount misses same-filesystem bind mounts)."""
    want = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and _unescape(fields[4]) == want:
                return True
    return False


def _unescape(s: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)


@dataclass(frozen=True)
class OverlayMount:
    """How to mount a snapshot: overlay of ``lowerdirs`` (topmost first) + optional upper/work."""

    lowerdirs: list[Path]
    upperdir: Path | None = None
    workdir: Path | None = None

    @property
    def kind(self) -> str:
        """``overlay``, or ``bind`` for a read-only view of a single layer (overlay needs two lowers)."""
        return "bind" if self.upperdir is None and len(self.lowerdirs) == 1 else "overlay"

    def options(self, relative_to: Path | None = None) -> str:
        def p(x: Path) -> str:
            s = os.path.relpath(x, relative_to) if relative_to else str(x)
            if "," in s or ":" in s:
                raise SystemFailure(f"overlay path {s!r} contains ',' or ':'")
            return s

        opts = "lowerdir=" + ":".join(p(x) for x in self.lowerdirs)
        if self.upperdir is not None and self.workdir is not None:
            opts += f",upperdir={p(self.upperdir)},workdir={p(self.workdir)}"
        return opts


class OverlaySnapshotter:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else data_root()
        self.dir = self.root / "snapshots"
        self.content = ContentStore(self.root)
        self._meta = self.dir / "metadata.json"
        self._lock = self.dir / "metadata.lock"

    # -- records ---------------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        return read_json(self._meta, {"next": 1, "snapshots": {}})

    @contextlib.contextmanager
    def _update(self) -> Iterator[dict[str, Any]]:
        with locked(self._lock):
            meta = self._load()
            yield meta
            write_json(self._meta, meta)

    def _fs(self, rec: dict[str, Any]) -> Path:
        return self.dir / str(rec["id"]) / "fs"

    def snapshots(self) -> dict[str, dict[str, Any]]:
        """All records: key -> {id, kind (committed|active|view), parent, mounted}."""
        return dict(self._load()["snapshots"])

    def writable_dirs(self) -> dict[str, Path]:
        """Each active snapshot's upper directory by key: what its container has written (containerd's Usage
        measures the same directory)."""
        return {k: self._fs(r) for k, r in self._load()["snapshots"].items() if r["kind"] == "active"}

    def _committed(self, key: str) -> bool:
        rec = self._load()["snapshots"].get(key)
        return rec is not None and rec["kind"] == "committed" and self._fs(rec).is_dir()

    def _lowers(self, snaps: dict[str, Any], parent: str | None) -> list[Path]:
        out = []
        while parent is not None:
            rec = snaps.get(parent)
            if rec is None:
                raise NotFound(f"snapshot not found: {parent}")
            out.append(self._fs(rec))
            parent = rec.get("parent")
        return out

    # -- layers ------------------------------------------------------------------------------------
    def unpack(self, image: Image) -> list[str]:
        """Make sure every layer of ``image`` is unpacked and committed; returns the chain ids."""
        chains = image.chain_ids
        if len(chains) != len(image.layers):
            raise SystemFailure(f"image {image.name}: {len(image.layers)} layers but {len(chains)} diff_ids")
        self.dir.mkdir(parents=True, exist_ok=True)
        for i, (layer, diff_id, chain) in enumerate(zip(image.layers, image.diff_ids, chains, strict=True)):
            if self._committed(chain):
                continue
            with locked(self.dir / "locks" / f"{digest_hex(chain)}.lock"):
                if self._committed(chain):
                    continue
                tmp = Path(tempfile.mkdtemp(dir=self.dir, prefix="tmp-"))
                try:
                    with self.content.open(layer.digest) as f:
                        apply_layer(f, tmp / "fs", overlay=True, diff_id=diff_id)
                    with self._update() as meta:
                        n = meta["next"]
                        meta["next"] = n + 1
                        os.rename(tmp, self.dir / str(n))
                        meta["snapshots"][chain] = {"id": n, "kind": "committed",
                                                    "parent": chains[i - 1] if i else None}
                except BaseException:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise
        return chains

    def _new(self, key: str, image: Image, kind: str, target: Path | None = None) -> OverlayMount:
        for _ in range(3):
            chains = self.unpack(image)
            with self._update() as meta:
                snaps = meta["snapshots"]
                if key in snaps:
                    raise AlreadyExists(f"snapshot {key} already exists")
                if chains and not all(c in snaps for c in chains):
                    continue  # garbage-collected between unpack and now: unpack again
                n = meta["next"]
                meta["next"] = n + 1
                d = self.dir / str(n)
                ensure_topdir(self.dir)
                d.mkdir()
                if kind == "active":
                    (d / "fs").mkdir(mode=0o755)
                    (d / "work").mkdir(mode=0o700)
                snaps[key] = {"id": n, "kind": kind, "parent": chains[-1] if chains else None}
                if target is not None:  # recorded before the mount, so a crash in between still unmounts
                    snaps[key]["mounted"] = str(target.resolve())
            if target is None:
                return self.mounts(key)
            try:
                return self._mount(key, target)
            except BaseException:
                self.remove(key)
                raise
        raise Conflict(f"snapshot {key}: layers of {image.name} keep disappearing (concurrent image removal?)")

    def prepare_mounted(self, key: str, image: Image, target: Path) -> OverlayMount:
        """:meth:`prepare` and :meth:`mount` at once, with one metadata write (every container start)."""
        return self._new(key, image, "active", Path(target))

    def prepare(self, key: str, image: Image) -> OverlayMount:
        """A writable snapshot of ``image`` for a container (unpacking layers as needed)."""
        return self._new(key, image, "active")

    def view(self, key: str, image: Image) -> OverlayMount:
        """A read-only snapshot of ``image``."""
        return self._new(key, image, "view")

    def mounts(self, key: str) -> OverlayMount:
        snaps = self._load()["snapshots"]
        rec = snaps.get(key)
        if rec is None:
            raise NotFound(f"snapshot not found: {key}")
        if rec["kind"] == "committed":
            return OverlayMount([self._fs(rec)])
        lowers = self._lowers(snaps, rec.get("parent"))
        if not lowers:
            empty = self.dir / "empty"
            empty.mkdir(parents=True, exist_ok=True)
            lowers = [empty]
        if rec["kind"] == "view":
            return OverlayMount(lowers)
        d = self.dir / str(rec["id"])
        return OverlayMount(lowers, d / "fs", d / "work")

    def commit(self, name: str, key: str) -> None:
        """Turn the active snapshot ``key`` (unmounted) into the committed layer ``name``."""
        with self._update() as meta:
            snaps = meta["snapshots"]
            rec = snaps.get(key)
            if rec is None or rec["kind"] != "active":
                raise NotFound(f"active snapshot not found: {key}")
            if rec.get("mounted"):
                raise Conflict(f"snapshot {key} is mounted")
            if name in snaps:
                raise AlreadyExists(f"snapshot {name} already exists")
            shutil.rmtree(self.dir / str(rec["id"]) / "work", ignore_errors=True)
            snaps[name] = {"id": rec["id"], "kind": "committed", "parent": rec.get("parent")}
            del snaps[key]

    # -- mounting ----------------------------------------------------------------------------------
    def mount(self, key: str, target: Path) -> None:
        self._mount(key, Path(target))
        with self._update() as meta:
            if key in meta["snapshots"]:
                meta["snapshots"][key]["mounted"] = str(target.resolve())

    def _mount(self, key: str, target: Path) -> OverlayMount:
        m = self.mounts(key)
        if m.kind == "bind":
            SYSCALLS.mount(str(m.lowerdirs[0]), str(target), None, MS_BIND)
            try:
                SYSCALLS.mount(None, str(target), None, MS_BIND | MS_REMOUNT | MS_RDONLY)
            except OSError:
                SYSCALLS.umount(str(target), MNT_DETACH)
                raise
        elif len(m.options()) < _PAGE - 1:
            SYSCALLS.mount("overlay", str(target), "overlay", MS_RDONLY if m.upperdir is None else 0, m.options())
        else:
            self._mount_relative(m, target)
        return m

    def _mount_relative(self, m: OverlayMount, target: Path) -> None:
        opts = m.options(relative_to=self.dir)
        if len(opts) >= _PAGE - 1:
            raise SystemFailure(f"too many layers to mount ({len(m.lowerdirs)}): overlay options exceed a page")
        target_abs = str(target.resolve())
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            code = 0
            try:
                os.chdir(self.dir)
                SYSCALLS.mount("overlay", target_abs, "overlay", MS_RDONLY if m.upperdir is None else 0, opts)
            except OSError as e:
                code = e.errno or 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code:
            raise OSError(code, f"mount overlay on {target_abs}: {os.strerror(code)}")

    def unmount(self, key: str) -> None:
        if self._umount(self._load()["snapshots"].get(key)):
            with self._update() as meta:
                if key in meta["snapshots"]:
                    meta["snapshots"][key].pop("mounted", None)

    def _umount(self, rec: dict[str, Any] | None) -> bool:
        """Unmount a record's target, if it has one (whether or not it is still mounted); whether it had."""
        target = rec.get("mounted") if rec else None
        if not target:
            return False
        for _ in range(16):  # mounted twice on the same target: peel them all off
            if not is_mounted(target):
                break
            try:
                SYSCALLS.umount(target)
            except OSError as e:
                if e.errno == errno.EINVAL:
                    break
                if e.errno != errno.EBUSY:
                    raise
                SYSCALLS.umount(target, MNT_DETACH)
        return True

    def remove(self, key: str) -> None:
        """Unmount and delete a snapshot; a committed one must have no children. No-op if absent."""
        rec = self._load()["snapshots"].get(key)
        if rec is None:
            return
        self._umount(rec)  # the record goes below, "mounted" with it: one metadata write
        with self._update() as meta:
            snaps = meta["snapshots"]
            rec = snaps.pop(key, None)
            if rec is None:
                return
            if any(r.get("parent") == key for r in snaps.values()):
                raise Conflict(f"snapshot {key} has children")
            shutil.rmtree(self.dir / str(rec["id"]), ignore_errors=True)

    def gc(self, keep: set[str]) -> list[str]:
        """Remove committed layers not in ``keep`` and not under any active/view snapshot."""
        removed: list[str] = []
        with self._update() as meta:
            snaps = meta["snapshots"]
            needed: set[str] = set()
            for k, r in snaps.items():
                if r["kind"] != "committed" or k in keep:
                    p: str | None = k if r["kind"] == "committed" else r.get("parent")
                    while p is not None and p not in needed:
                        needed.add(p)
                        p = snaps.get(p, {}).get("parent")
            for k in [k for k, r in snaps.items() if r["kind"] == "committed" and k not in needed]:
                shutil.rmtree(self.dir / str(snaps.pop(k)["id"]), ignore_errors=True)
                removed.append(k)
        return removed
