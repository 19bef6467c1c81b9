"""Kubernetes' ``$(VAR)`` expansion, used for env values, command, args and subPathExpr.

The rules are deliberately not a shell's: ``$(NAME)`` is replaced when NAME is
known, left exactly as written when it is not; ``$$`` is one literal ``$`` (so
``$$(NAME)`` yields ``$(NAME)``); an unclosed ``$(`` and a ``$`` before any other
character are kept as they are. No nesting, no defaults, no recursion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


def mapping_for(*contexts: Mapping[str, str]) -> Callable[[str], str]:
    """Look NAME up in each context in turn; unknown names stay ``$(NAME)``."""

    def lookup(name: str) -> str:
        for ctx in contexts:
            if name in ctx:
                return ctx[name]
        return f"$({name})"

    return lookup


def expand(text: str, mapping: Callable[[str], str]) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "$" or i + 1 == n:
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close < 0:
                out.append("$(")
                i += 2
            else:
                out.append(mapping(text[i + 2:close]))
                i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)
