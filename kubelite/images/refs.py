"""Image references, normalised the way Docker does it.

Everything is stored under the fully qualified name
(``docker.io/library/busybox:latest``) and shown in the familiar short form
(``busybox:latest``), so ``busybox``, ``busybox:latest`` and the long form are
one image. The grammar is the one of the distribution ``reference`` package: a
first path component containing a dot or a colon, or ``localhost``, is a
registry host; otherwise the registry is docker.io and one-component names get
the ``library/`` prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubelite.errors import Invalid

DEFAULT_DOMAIN = "docker.io"
DEFAULT_TAG = "latest"

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_DOMAIN = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
                     r"(?::[0-9]+)?$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


@dataclass(frozen=True)
class Reference:
    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        s = self.repository
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, None)

    @property
    def familiar(self) -> str:
        return familiar_name(str(self))


def is_bare_tag(s: str) -> bool:
    """True for things like ``latest`` or ``v1.2`` that carry no repository."""
    return bool(_TAG.match(s)) and "/" not in s and ":" not in s and "@" not in s


def parse(ref: str, default_tag: bool = True) -> Reference:
    """Parse and normalise ``ref``; with ``default_tag`` a reference without tag or digest gets ``latest``."""
    if not ref or len(ref) > 512:
        raise Invalid(f"invalid reference format: {ref!r}")
    name, digest = ref, None
    if "@" in ref:
        name, digest = ref.split("@", 1)
        if not _DIGEST.match(digest):
            raise Invalid(f"invalid reference format: {ref!r} (bad digest)")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        if not _TAG.match(tag):
            raise Invalid(f"invalid reference format: {ref!r} (bad tag)")
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        domain, rest = parts[0], parts[1:]
        if not _DOMAIN.match(domain):
            raise Invalid(f"invalid reference format: {ref!r} (bad registry host)")
    else:
        domain, rest = DEFAULT_DOMAIN, parts
    if domain == "index.docker.io":
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and len(rest) == 1:
        rest = ["library", *rest]
    for c in rest:
        if not _COMPONENT.match(c):
            if c.lower() != c:
                raise Invalid(f"invalid reference format: repository name must be lowercase: {ref!r}")
            raise Invalid(f"invalid reference format: {ref!r}")
    path = "/".join(rest)
    if len(domain) + 1 + len(path) > 255:
        raise Invalid(f"invalid reference format: repository name too long: {ref!r}")
    if default_tag and tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def normalize(ref: str) -> str:
    """Fully qualified form: ``busybox`` -> ``docker.io/library/busybox:latest``."""
    return str(parse(ref))


def familiar_name(full: str) -> str:
    """Short display form: ``docker.io/library/busybox:latest`` -> ``busybox:latest``."""
    s = full
    if s.startswith(DEFAULT_DOMAIN + "/"):
        s = s[len(DEFAULT_DOMAIN) + 1:]
        if s.startswith("library/") and "/" not in s[len("library/"):].split("@")[0]:
            s = s[len("library/"):]
    return s
