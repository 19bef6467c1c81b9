"""Static bearer tokens in Kubernetes' ``--token-auth-file`` format.

``DATA_DIR/tokens.csv`` holds one credential a line: ``token,user,uid,"group1,group2"``
(the groups column is optional), exactly what kube-apiserver reads, so an operator
can edit it with the same habits. The file is 0600 and rewritten atomically.

Lookups never compare the presented token with a stored one directly: both are
hashed with SHA-256 and every stored digest is compared with
``hmac.compare_digest``, without stopping at the first match, so neither the
position of a match nor a common prefix shows in the response time.

Kubelite keeps the file in memory and changes it only through this class; an
edit by hand is picked up by :meth:`TokenFile.reload` (the server calls it on
SIGHUP or on start), like kube-apiserver, which reads the file only at start.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass
from pathlib import Path

from kubelite.api.security.files import write_private
from kubelite.errors import Invalid

ADMIN_USER = "kubelite-admin"
NODE_JOIN_USER = "system:bootstrap:kubelite"


@dataclass(frozen=True)
class TokenEntry:
    """One line of the token file."""

    token: str
    user: str
    uid: str
    groups: tuple[str, ...] = ()


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    """256 random bits, URL-safe base64: never a comma, quote or space that would upset the CSV."""
    return secrets.token_urlsafe(32)


def _parse(text: str, origin: str) -> list[TokenEntry]:
    entries: list[TokenEntry] = []
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or (len(row) == 1 and not row[0].strip()) or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 3 or not row[0] or not row[1]:
            raise Invalid(f'{origin}:{lineno}: want token,user,uid[,"group1,group2"]')
        groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
        entries.append(TokenEntry(row[0].strip(), row[1].strip(), row[2].strip(), groups))
    return entries


def _format(entries: list[TokenEntry]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    for e in entries:
        row = [e.token, e.user, e.uid]
        if e.groups:
            row.append(",".join(e.groups))
        writer.writerow(row)
    return out.getvalue().encode()


class TokenFile:
    """The static token file of one data directory, held in memory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._entries: list[TokenEntry] = []
        self._digests: list[tuple[bytes, TokenEntry]] = []
        self.reload()

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> TokenFile:
        return cls(Path(data_dir) / "tokens.csv")

    def reload(self) -> None:
        """Read the file again (absent means empty)."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            text = ""
        self._set(_parse(text, str(self.path)))

    def _set(self, entries: list[TokenEntry]) -> None:
        self._entries = entries
        self._digests = [(token_digest(e.token), e) for e in entries]

    @property
    def entries(self) -> tuple[TokenEntry, ...]:
        return tuple(self._entries)

    def lookup(self, token: str) -> TokenEntry | None:
        """The entry for ``token``, in time independent of which entry (if any) matches."""
        presented = token_digest(token)
        found: TokenEntry | None = None
        for digest, entry in self._digests:
            if hmac.compare_digest(presented, digest) and found is None:
                found = entry
        return found

    def add(self, user: str, uid: str, groups: list[str] | tuple[str, ...], token: str | None = None) -> str:
        """Add a token for ``user`` (a new random one unless given), write the file, return the token."""
        token = token or new_token()
        if any(c in token for c in ',"\n\r') or not token.strip():
            raise Invalid("a token may not be empty or contain commas, quotes or line breaks")
        entries = [*self._entries, TokenEntry(token, user, uid, tuple(groups))]
        write_private(self.path, _format(entries))
        self._set(entries)
        return token

    def remove_user(self, user: str) -> int:
        """Revoke every token of ``user``; return how many there were."""
        kept = [e for e in self._entries if e.user != user]
        removed = len(self._entries) - len(kept)
        if removed:
            write_private(self.path, _format(kept))
            self._set(kept)
        return removed

    def _ensure(self, user: str, uid: str, groups: list[str]) -> str:
        for e in self._entries:
            if e.user == user and set(groups) <= set(e.groups):
                return e.token
        return self.add(user, uid, groups)

    def ensure_admin_token(self) -> str:
        """The token of ``kubelite-admin`` (group ``system:masters``), made on first use."""
        return self._ensure(ADMIN_USER, ADMIN_USER, ["system:masters"])

    def ensure_node_token(self, node_name: str | None = None) -> str:
        """A token for node agents, made on first use.

        With a name: user ``system:node:<name>``, as the kubelet of that node.
        Without: one shared join token (user ``system:bootstrap:kubelite``,
        groups ``system:nodes`` and ``system:bootstrappers``) that any agent can
        start with. TODO: let a joining agent trade it for its own client
        certificate through a CertificateSigningRequest, as kubelet TLS
        bootstrap does, so each node acts under its own name.
        """
        if node_name:
            name = f"system:node:{node_name}"
            return self._ensure(name, name, ["system:nodes"])
        return self._ensure(NODE_JOIN_USER, NODE_JOIN_USER, ["system:nodes", "system:bootstrappers"])
