"""The static token file: Kubernetes' CSV format, private, constant-time lookups."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kubelite.api.security.tokens import TokenEntry, TokenFile
from kubelite.errors import Invalid


def test_reads_kubernetes_format(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text('# a comment\nt1,alice,1001,"dev,ops"\nt2,bob,1002\n\nt3,carol,1003,single\n')
    tokens = TokenFile(path)
    assert tokens.lookup("t1") == TokenEntry("t1", "alice", "1001", ("dev", "ops"))
    assert tokens.lookup("t2") == TokenEntry("t2", "bob", "1002", ())
    assert tokens.lookup("t3") == TokenEntry("t3", "carol", "1003", ("single",))
    assert tokens.lookup("t4") is None
    assert tokens.lookup("") is None


def test_malformed_line_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text("onlytoken\n")
    with pytest.raises(Invalid, match="tokens.csv:1"):
        TokenFile(path)


def test_ensure_tokens_are_stable_and_private(tmp_path: Path) -> None:
    tokens = TokenFile.in_data_dir(tmp_path)
    admin = tokens.ensure_admin_token()
    assert tokens.ensure_admin_token() == admin
    node = tokens.ensure_node_token("n1")
    join = tokens.ensure_node_token()
    assert len({admin, node, join}) == 3 and len(admin) >= 40
    assert stat.S_IMODE((tmp_path / "tokens.csv").stat().st_mode) == 0o600

    again = TokenFile.in_data_dir(tmp_path)  # what a restarted server reads
    assert again.ensure_admin_token() == admin
    assert again.lookup(admin) == TokenEntry(admin, "kubelite-admin", "kubelite-admin", ("system:masters",))
    assert again.lookup(node) == TokenEntry(node, "system:node:n1", "system:node:n1", ("system:nodes",))
    entry = again.lookup(join)
    assert entry is not None and entry.groups == ("system:nodes", "system:bootstrappers")
    assert (
        f'{join},system:bootstrap:kubelite,system:bootstrap:kubelite,"system:nodes,system:bootstrappers"'
        in (tmp_path / "tokens.csv").read_text().splitlines()
    )


def test_add_and_revoke(tmp_path: Path) -> None:
    tokens = TokenFile.in_data_dir(tmp_path)
    t = tokens.add("dave", "7", ["g"])
    assert tokens.lookup(t) is not None
    with pytest.raises(Invalid):
        tokens.add("eve", "8", [], token="a,b")
    assert tokens.remove_user("dave") == 1
    assert tokens.lookup(t) is None
    assert TokenFile.in_data_dir(tmp_path).lookup(t) is None
