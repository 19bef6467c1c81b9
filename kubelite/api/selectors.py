"""Label and field selectors, parsed once per request into predicates.

Label selectors follow apimachinery's grammar: ``k=v``, ``k==v``, ``k!=v``,
``k in (a,b)``, ``k notin (a,b)``, ``k`` (exists), ``!k`` (does not exist),
comma-separated and ANDed. Field selectors support ``=``, ``==`` and ``!=`` on
the fields each kind's strategy exposes (``Strategy.field_value``). A
malformed selector is a 400 BadRequest, never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from kubelite.api.errors import BadRequest
from kubelite.api.meta import is_qualified_name

_TOKEN = re.compile(r"\s*(!=|==|=|\(|\)|,|!|[^\s!=(),]+)")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # in, notin, exists, !, =, !=
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        has = self.key in labels
        v = labels.get(self.key)
        match self.op:
            case "=" | "in":
                return has and v in self.values
            case "!=" | "notin":
                return not has or v not in self.values
            case "exists":
                return has
            case _:
                return not has


def _tokens(s: str) -> list[str]:
    out, pos = [], 0
    s = s.strip()
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m or not m.group(1):
            raise BadRequest(f"unable to parse requirement: invalid label selector: {s!r}")
        out.append(m.group(1))
        pos = m.end()
        while pos < len(s) and s[pos].isspace():
            pos += 1
    return out


def parse_label_selector(s: str) -> list[Requirement]:
    toks = _tokens(s)
    reqs: list[Requirement] = []
    i = 0

    def bad(why: str) -> BadRequest:
        return BadRequest(f"unable to parse requirement: {why}")

    while i < len(toks):
        neg = toks[i] == "!"
        if neg:
            i += 1
        if i >= len(toks) or toks[i] in ("=", "==", "!=", "(", ")", ",", "!"):
            raise bad(f"found '{toks[i] if i < len(toks) else ''}', expected: identifier")
        key = toks[i]
        for m in is_qualified_name(key):
            raise bad(f"invalid label key \"{key}\": {m}")
        i += 1
        if neg or i >= len(toks) or toks[i] == ",":
            reqs.append(Requirement(key, "!" if neg else "exists"))
        elif toks[i] in ("=", "==", "!="):
            op = "!=" if toks[i] == "!=" else "="
            i += 1
            val = ""
            if i < len(toks) and toks[i] not in (",", "(", ")", "!", "=", "==", "!="):
                val = toks[i]
                i += 1
            reqs.append(Requirement(key, op, (val,)))
        elif toks[i] in ("in", "notin"):
            op = toks[i]
            i += 1
            if i >= len(toks) or toks[i] != "(":
                raise bad("found '" + (toks[i] if i < len(toks) else "") + "', expected: '('")
            i += 1
            vals: list[str] = []
            while i < len(toks) and toks[i] != ")":
                if toks[i] != ",":
                    vals.append(toks[i])
                i += 1
            if i >= len(toks):
                raise bad("found '', expected: ')'")
            i += 1
            reqs.append(Requirement(key, op, tuple(vals)))
        else:
            raise bad(f"found '{toks[i]}', expected: in, notin, =, ==, !=, gt, lt")
        if i < len(toks):
            if toks[i] != ",":
                raise bad(f"found '{toks[i]}', expected: ',' or 'end of string'")
            i += 1
    return reqs


def label_predicate(s: str) -> Callable[[dict[str, str]], bool] | None:
    if not s.strip():
        return None
    reqs = parse_label_selector(s)
    return lambda labels: all(r.matches(labels) for r in reqs)


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    equal: bool


def parse_field_selector(s: str) -> list[FieldRequirement]:
    out: list[FieldRequirement] = []
    for part in (p.strip() for p in s.split(",")):
        if not part:
            continue
        for op in ("!=", "==", "="):
            if op in part:
                f, _, v = part.partition(op)
                out.append(FieldRequirement(f.strip(), v.strip(), op != "!="))
                break
        else:
            raise BadRequest(f"invalid selector: '{s}'; can't understand '{part}'")
    return out
