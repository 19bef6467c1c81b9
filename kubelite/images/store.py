"""The image store: names -> manifest digests, over the content store.

The only mutable state is ``<root>/images/images.json`` mapping fully
qualified names to manifest digests; everything else is immutable blobs and
unpacked layers derived from them. Writers (import, tag, remove,
ensure_default) hold an flock on ``images/images.lock`` for the whole
operation, so garbage collection (which deletes blobs and unpacked layers no
name reaches any more) can never race an import that has written blobs but
not yet its name; readers (get, list) only read the atomically replaced file.

Lookups go the way docker's do: a full image id or manifest digest, then a
name (``busybox`` == ``busybox:latest`` == ``docker.io/library/busybox:latest``,
``name@sha256:…`` by manifest digest within the repository), then a unique
prefix of an image id.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kubelite.errors import Conflict, Invalid, NotFound
from kubelite.images import default_image, exporter, importer, refs
from kubelite.images._files import locked, read_json, write_json
from kubelite.images.content import ContentStore
from kubelite.images.image import Image, ImageRecord
from kubelite.images.manifest import chain_ids, parse_config, parse_manifest
from kubelite.images.snapshotter import OverlaySnapshotter
from kubelite.paths import data_root

_HEX = re.compile(r"^(?:sha256:)?[a-f0-9]{1,64}$")


class ImageStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else data_root()
        self.content = ContentStore(self.root)
        self._file = self.root / "images" / "images.json"
        self._lock = self.root / "images" / "images.lock"
        # (full name, manifest digest) -> Image. The manifest and config are content-addressed, so a parsed
        # image never goes stale: only which digest a name points to changes, and that is read every time.
        # Every container start gets its image (twice in the agent); this spares the blob reads, digest
        # checks and parsing (~0.25 ms each). Images are frozen; their config is shared, read-only.
        self._parsed: dict[tuple[str, str], Image] = {}

    # -- records ---------------------------------------------------------------------------------
    def _names(self) -> dict[str, str]:
        doc = read_json(self._file, {"images": {}})
        return {k: v["digest"] for k, v in doc.get("images", {}).items()}

    @contextlib.contextmanager
    def _update(self) -> Iterator[dict[str, str]]:
        with locked(self._lock):
            names = self._names()
            yield names
            write_json(self._file, {"version": 1, "images": {k: {"digest": v} for k, v in sorted(names.items())}})

    def _load(self, full_name: str, digest: str) -> Image:
        img = self._parsed.get((full_name, digest))
        if img is None:
            img = self._parse(full_name, digest)
            if len(self._parsed) >= 256:
                self._parsed.clear()
            self._parsed[(full_name, digest)] = img
        return img

    def _parse(self, full_name: str, digest: str) -> Image:
        m = parse_manifest(self.content.read(digest))
        config = parse_config(self.content.read(m.config.digest))
        diff_ids: list[str] = list(config["rootfs"]["diff_ids"])
        return Image(name=refs.familiar_name(full_name), digest=digest, id=m.config.digest, config=config,
                     diff_ids=diff_ids, layers=list(m.layers))

    def _resolve(self, name_or_id: str) -> tuple[str, str]:
        """(full name, manifest digest) for a name, digest, id or id prefix."""
        names = self._names()
        if not names or not name_or_id:
            raise NotFound(f"image not found: {name_or_id}")
        ids: dict[str, str] = {}  # full name -> config digest, computed lazily
        by_id = _HEX.match(name_or_id) and (len(name_or_id) in (64, 71))
        if by_id:
            want = name_or_id if name_or_id.startswith("sha256:") else "sha256:" + name_or_id
            for n, d in sorted(names.items()):
                if d == want or self._config_digest(d) == want:
                    return n, d
        try:
            ref = refs.parse(name_or_id)
        except Invalid:
            ref = None
        if ref is not None:
            if ref.digest:
                for n, d in sorted(names.items()):
                    if d == ref.digest and refs.parse(n).repository == ref.repository:
                        return n, d
            elif str(ref) in names:
                return str(ref), names[str(ref)]
        if _HEX.match(name_or_id):
            prefix = name_or_id if name_or_id.startswith("sha256:") else "sha256:" + name_or_id
            for n, d in sorted(names.items()):
                ids[n] = self._config_digest(d)
            hits = {i for i in ids.values() if i.startswith(prefix)}
            if len(hits) > 1:
                raise Invalid(f"image id prefix {name_or_id!r} is ambiguous")
            if hits:
                n = next(n for n, i in sorted(ids.items()) if i in hits)
                return n, names[n]
        raise NotFound(f"image not found: {name_or_id}")

    def _config_digest(self, manifest_digest: str) -> str:
        try:
            return parse_manifest(self.content.read(manifest_digest)).config.digest
        except NotFound:
            return ""

    # -- queries -----------------------------------------------------------------------------------
    def get(self, name_or_id: str) -> Image:
        full, digest = self._resolve(name_or_id)
        return self._load(full, digest)

    # -- changes -----------------------------------------------------------------------------------
    def import_archive(self, path: Path, name: str | None = None) -> list[str]:
        """Import every image of an OCI layout/oci-archive/docker archive; returns the names (short form)."""
        with self._update() as names:
            imported = importer.read_archive(self.content, Path(path), name)
            unnamed = [i.digest for i in imported if not i.names]
            if unnamed:
                raise Invalid(f"{path}: image {unnamed[0]} has no name in the archive; give one (--name)")
            out: list[str] = []
            for i in imported:
                for n in i.names:
                    names[n] = i.digest
                    if refs.familiar_name(n) not in out:
                        out.append(refs.familiar_name(n))
            if not imported:
                raise Invalid(f"{path}: the archive holds no images")
        return out

    def export(self, names: list[str], path: Path, fmt: str = "oci-archive") -> None:
        images = [self._resolve(n) for n in names]
        exporter.export(self.content, images, Path(path), fmt)

    def tag(self, src: str, dst: str) -> None:
        target = refs.parse(dst)
        if target.digest:
            raise Invalid(f"cannot tag with a digest reference: {dst}")
        with self._update() as names:
            _, digest = self._resolve(src)
            names[str(target)] = digest

    def remove(self, name: str, force: bool = False, in_use: Callable[[str], bool] | None = None) -> list[str]:
        """Untag ``name`` (an id removes every name of the image); collect what nothing refers to.

        ``in_use(image_id)`` says whether a container uses the image: then Conflict unless ``force``.
        Returns the names removed (short form).
        """
        with self._update() as names:
            full, digest = self._resolve(name)
            image_id = self._config_digest(digest)
            by_name = False
            with contextlib.suppress(Invalid):
                by_name = str(refs.parse(name)) == full
            victims = [full] if by_name else [n for n, d in names.items() if self._config_digest(d) == image_id]
            remaining = {d for n, d in names.items() if n not in victims}
            last = not any(self._config_digest(d) == image_id for d in remaining)
            if last and in_use is not None and not force and in_use(image_id):
                raise Conflict(f"unable to remove {refs.familiar_name(full)}: image is being used by a container")
            if not by_name and len(victims) > 1 and not force:
                raise Conflict(f"unable to delete {name} (must be forced): image is referenced in multiple "
                               f"repositories")
            for n in victims:
                del names[n]
            self._gc(names)
        return [refs.familiar_name(n) for n in victims]

    def _gc(self, names: dict[str, str]) -> None:
        keep_blobs: set[str] = set()
        keep_chains: set[str] = set()
        for digest in set(names.values()):
            keep_blobs.add(digest)
            try:
                m = parse_manifest(self.content.read(digest))
                config = parse_config(self.content.read(m.config.digest))
            except NotFound:
                continue
            keep_blobs.add(m.config.digest)
            keep_blobs.update(x.digest for x in m.layers)
            keep_chains.update(chain_ids(config["rootfs"]["diff_ids"]))
        OverlaySnapshotter(self.root).gc(keep_chains)
        for blob in list(self.content.walk()):
            if blob not in keep_blobs:
                self.content.delete(blob)

    def gc(self) -> None:
        with self._update() as names:
            self._gc(names)

    def ensure_default(self) -> str:
        """Make sure ``busybox:latest`` exists (building it from the host's busybox); returns its name."""
        full = default_image.NAME
        if full in self._names():
            return refs.familiar_name(full)
        with self._update() as names:
            if full not in names or not self.content.has(names[full]):
                names[full] = default_image.build_busybox(self.content)
        return refs.familiar_name(full)

    def inspect_raw(self, name_or_id: str) -> dict[str, Any]:
        """The manifest and config documents, for ``image inspect``-style output."""
        full, digest = self._resolve(name_or_id)
        m = parse_manifest(self.content.read(digest))
        import json

        return {"name": refs.familiar_name(full), "digest": digest,
                "manifest": json.loads(self.content.read(digest)),
                "config": json.loads(self.content.read(m.config.digest))}

    def list(self) -> list[ImageRecord]:  # last in the class: `list` stays the builtin above
        out = []
        for full, digest in sorted(self._names().items(), key=lambda kv: refs.familiar_name(kv[0])):
            try:
                m = parse_manifest(self.content.read(digest))
                config = parse_config(self.content.read(m.config.digest))
            except NotFound:
                continue  # removed under us
            size = m.config.size + sum(x.size for x in m.layers)
            out.append(ImageRecord(name=refs.familiar_name(full), digest=digest, id=m.config.digest,
                                   created=str(config.get("created") or ""), size=size))
        return out
