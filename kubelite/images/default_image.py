"""The default image, ``busybox:latest``, built from the host's static busybox.

kubelite must run a container on a machine with no registry access, so the
default image is made locally from Debian's ``busybox-static`` binary: one
layer with the binary, a symlink per applet (the binary's own
``--list-full``), a minimal /etc/passwd and /etc/group, and the usual empty
directories. Everything is fixed (mtime 0, root ownership, sorted entries,
reproducible gzip) so the same busybox always yields the same image digest.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kubelite.errors import NotFound, SystemFailure
from kubelite.images.builder import EPOCH, Entry, add_image, add_layer, image_config
from kubelite.images.content import ContentStore

NAME = "docker.io/library/busybox:latest"
CANDIDATES = (Path("/bin/busybox"), Path("/usr/bin/busybox"))
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

PASSWD = (b"root:x:0:0:root:/root:/bin/sh\n"
          b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
          b"user:x:1000:1000:user:/home/user:/bin/sh\n")
GROUP = b"root:x:0:\nnobody:x:65534:\nuser:x:1000:\n"


def find_busybox() -> Path:
    for p in CANDIDATES:
        if p.is_file() and os.access(p, os.X_OK):
            return p
    raise NotFound("busybox not found at /bin/busybox or /usr/bin/busybox (install busybox-static)")


def busybox_entries(busybox: Path) -> list[Entry]:
    try:
        out = subprocess.run([str(busybox), "--list-full"], check=True, capture_output=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise SystemFailure(f"cannot list busybox applets: {e}") from None
    applets = sorted({line.strip().strip("/") for line in out.decode().splitlines() if line.strip()}
                     - {"bin/busybox"})
    dirs = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o555, "root": 0o700,
            "sys": 0o555, "tmp": 0o1777, "usr": 0o755, "var": 0o755, "var/tmp": 0o1777}
    for a in applets:
        parent = a.rpartition("/")[0]
        while parent:
            dirs.setdefault(parent, 0o755)
            parent = parent.rpartition("/")[0]
    entries = [Entry(d, "dir", mode=m) for d, m in dirs.items()]
    entries.append(Entry("home/user", "dir", mode=0o755, uid=1000, gid=1000))
    entries += [Entry("bin/busybox", source=busybox.resolve(), mode=0o755),
                Entry("etc/passwd", data=PASSWD), Entry("etc/group", data=GROUP)]
    entries += [Entry(a, "symlink", target="/bin/busybox") for a in applets]
    return sorted(entries, key=lambda e: e.path)


def build_busybox(content: ContentStore, busybox: Path | None = None) -> str:
    """Build the default image into ``content``; returns its manifest digest."""
    bb = busybox or find_busybox()
    layer = add_layer(content, busybox_entries(bb))
    history = [{"created": EPOCH, "created_by": f"kubelite: busybox from {bb} with an applet symlink each"}]
    config = image_config([layer[1]], {"Env": [PATH_ENV], "Cmd": ["sh"]}, history=history)
    return add_image(content, [layer], config)
