"""Image commands: images, image import/export/ls/rm/inspect/ensure-default, rmi, tag."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kubelite.cli.args import Parser
from kubelite.cli.table import print_table
from kubelite.errors import Invalid

if TYPE_CHECKING:
    from kubelite.images.store import ImageStore


def main(argv: list[str]) -> int:
    cmd = argv[0]
    if cmd == "images":
        return cmd_list(argv[1:])
    if cmd == "rmi":
        return cmd_rm(argv[1:])
    if cmd == "tag":
        return cmd_tag(argv[1:])
    sub = argv[1] if len(argv) > 1 else ""
    handlers = {"import": cmd_import, "load": cmd_import, "export": cmd_export, "save": cmd_export,
                "ls": cmd_list, "list": cmd_list, "rm": cmd_rm, "tag": cmd_tag, "inspect": cmd_inspect,
                "ensure-default": cmd_ensure_default}
    if sub not in handlers:
        raise Invalid(f"image: unknown subcommand {sub!r} (import, export, ls, rm, tag, inspect)")
    return handlers[sub](argv[2:])


def _store() -> ImageStore:
    from kubelite.images.store import ImageStore

    return ImageStore()


def _size(n: int) -> str:
    for unit, k in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= k:
            return f"{n / k:.3g}{unit}"
    return f"{n}B"


def _ago(ts: str) -> str:
    try:
        t = datetime.fromisoformat(ts.replace("Z", "+00:00")[:32])
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
    except ValueError:
        return ts or "N/A"
    s = (datetime.now(UTC) - t).total_seconds()
    for unit, n in (("years", 31536000), ("months", 2592000), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if s >= 2 * n:
            return f"{int(s // n)} {unit} ago"
    return "About a minute ago" if s >= 60 else "Less than a minute ago"


def cmd_list(argv: list[str]) -> int:
    p = Parser(prog="kubelite images")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    a = p.parse_args(argv)
    store = _store()
    store.ensure_default()
    rows = [("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE")]
    for r in store.list():
        repo, _, tag = r.name.rpartition(":") if ":" in r.name.rsplit("/", 1)[-1] else (r.name, "", "<none>")
        image_id = r.id if a.no_trunc else r.id.removeprefix("sha256:")[:12]
        if a.quiet:
            print(image_id)
            continue
        rows.append((repo, tag, image_id, _ago(r.created), _size(r.size)))
    if not a.quiet:
        print_table(rows)
    return 0


def cmd_import(argv: list[str]) -> int:
    p = Parser(prog="kubelite image import")
    p.add_argument("file")
    p.add_argument("--name", default=None, help="name for an OCI layout whose index carries only a tag")
    a = p.parse_args(argv)
    for name in _store().import_archive(Path(a.file), name=a.name):
        print(f"Loaded image: {name}")
    return 0


def cmd_export(argv: list[str]) -> int:
    p = Parser(prog="kubelite image export")
    p.add_argument("name")
    p.add_argument("file")
    p.add_argument("--format", default="oci-archive", choices=["oci-archive", "docker-archive", "oci-dir"])
    a = p.parse_args(argv)
    _store().export([a.name], Path(a.file), fmt=a.format)
    return 0


def cmd_rm(argv: list[str]) -> int:
    p = Parser(prog="kubelite rmi")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("names", nargs="+")
    a = p.parse_args(argv)
    from kubelite.containers.engine import Engine

    engine = Engine()
    for n in a.names:
        engine.images.remove(n, force=a.force, in_use=engine.image_in_use)
        print(f"Untagged: {n}")
    return 0


def cmd_tag(argv: list[str]) -> int:
    p = Parser(prog="kubelite tag")
    p.add_argument("source")
    p.add_argument("target")
    a = p.parse_args(argv)
    _store().tag(a.source, a.target)
    return 0


def cmd_inspect(argv: list[str]) -> int:
    p = Parser(prog="kubelite image inspect")
    p.add_argument("names", nargs="+")
    a = p.parse_args(argv)
    store = _store()
    out = []
    for n in a.names:
        img = store.get(n)
        out.append({"Id": img.id, "RepoTags": [img.name], "RepoDigests": [img.digest], "Config": img.config.get("config", {}),
                    "Architecture": img.config.get("architecture"), "Os": img.config.get("os"),
                    "RootFS": {"Type": "layers", "Layers": img.diff_ids}})
    print(json.dumps(out, indent=4))
    return 0


def cmd_ensure_default(argv: list[str]) -> int:
    Parser(prog="kubelite image ensure-default").parse_args(argv)
    print(_store().ensure_default())
    return 0
