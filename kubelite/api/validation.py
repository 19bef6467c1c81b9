"""Field validation as kube-apiserver does it: unknown and duplicate fields, then types against the schemas.

Kubernetes decodes a body into its Go types, so an unknown field is always
dropped, and a duplicated one keeps its last value; the ``fieldValidation``
query parameter only decides what the client hears about it:

* ``Strict``: 400 BadRequest ``strict decoding error: unknown field "spec.foo",
  duplicate field "spec.paused"`` (prefixed, on create and update, with
  ``Deployment in version "v1" cannot be handled as a Deployment:``);
* ``Warn`` (the default): the same findings as ``Warning: 299 - "..."`` headers;
* ``Ignore``: silence.

Findings come in document order, as one walk of the object along the
kubernetes-validate schema of its kind (:mod:`kubelite.api.schemas`) finds
them; duplicates are seen while parsing JSON (:func:`decode`: orjson first, and the slower parse that
notes duplicates only when a count of the text's keys says one may be there). On an update or
a patch, a field the stored object already has is not the client's doing and is
left alone.

Types are then checked with ``jsonschema`` on the same schemas (one validator
per kind, built on first use). It costs ~0.4 ms for a small Pod, ten times the
walk, so the walk also compares each value's JSON type with its schema and
jsonschema runs only when one looks wrong, to say what. A wrong type is 422
Invalid with one cause per field, worded as kube-openapi words it,
``spec.replicas: Invalid value: "string": spec.replicas in body must be of
type integer: "string"``. This runs before the kind's strategy, whose own checks
may then rely on the types. Required fields and enums stay with the strategies,
which know the defaults that fill them.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import Any, TypeVar

import orjson
from aiohttp import web
from jsonschema import Draft202012Validator
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from kubelite.api import schemas
from kubelite.api.codec import check_size, decode_body, decode_object, media_type
from kubelite.api.errors import BadRequest, Cause, FieldsInvalid, invalid_value
from kubelite.api.registry.base import Obj, Strategy

STRICT, WARN, IGNORE = "Strict", "Warn", "Ignore"
Dups = dict[int, set[str]]  # id() of a parsed JSON object -> its keys that appeared more than once
_ABSENT = object()
R = TypeVar("R", bound=web.StreamResponse)


def mode(query: Any) -> str:
    """The request's ``fieldValidation`` directive; Warn when absent, as in Kubernetes 1.27+."""
    value = str(query.get("fieldValidation", "") or WARN)
    if value not in (STRICT, WARN, IGNORE):
        raise BadRequest(f'fieldValidation: Unsupported value: "{value}": supported values: "", "Ignore", '
                         f'"Strict", "Warn"')
    return value


def decode(content_type: str, body: bytes) -> tuple[Obj, Dups]:
    """A request body as an object, and (for JSON) which keys were duplicated in which object."""
    obj, dups = decode_any(content_type, body)
    if not isinstance(obj, dict):
        return decode_object(content_type, body), {}  # raises kube's error for a non-object
    return obj, dups


_QUOTE_COLON = re.compile(rb'"\s*:')
_MAX_BACKSLASHES = 16


def _key_ends(body: bytes) -> int:
    """How many '"' followed by ':' (whitespace between allowed) close a key: those whose quote is not escaped.

    Inside a string every quote is escaped, and a string may well hold '":' (a managedFields key such as
    'k:{"uid":"..."}' does), so a '":' preceded by an odd run of backslashes is not a key end. Counting
    '":' after k backslashes with alternating signs counts exactly those with an odd run; an escaped quote
    with whitespace before its ':' is not subtracted, which can only send a body down the slow path; so
    does a run of more than a few backslashes (-1).
    """
    n = len(_QUOTE_COLON.findall(body))
    k, sign = 1, 1
    while True:
        c = body.count(b"\\" * k + b'":')
        if not c:
            return n
        if k == _MAX_BACKSLASHES:  # a crafted run of backslashes must not cost a pass over the body each
            return -1  # matches no key count: the exact parser decides
        n -= sign * c
        k, sign = k + 1, -sign


def _key_count(value: Any) -> int:
    n, stack = 0, [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            n += len(v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return n


def decode_any(content_type: str, body: bytes) -> tuple[Any, Dups]:
    """Any body (objects, patches); JSON is parsed once, noting duplicate keys on the way."""
    mt = media_type(content_type) or "application/json"
    if not (mt == "application/json" or mt.endswith("+json")):
        return decode_body(content_type, body), {}
    check_size(body)
    try:
        fast = orjson.loads(body)
    except orjson.JSONDecodeError:
        pass  # NaN, 64-bit overflow, bad UTF-8, not JSON: the path below decides
    else:
        # Every key ends with an unescaped '"' and ':' (whitespace between allowed), and nothing else does, so
        # the text holds exactly as many of those as it has keys; if the decoded tree kept them all, no key
        # was duplicated.
        if _key_ends(body) == _key_count(fast):
            return fast, {}
    dups: Dups = {}

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d: dict[str, Any] = {}
        seen: set[str] | None = None
        for k, v in pairs:
            if k in d:
                seen = seen or set()
                seen.add(k)
            d[k] = v
        if seen:
            dups[id(d)] = seen
        return d

    try:
        return json.loads(body, object_pairs_hook=hook), dups
    except (ValueError, UnicodeDecodeError):
        return decode_body(content_type, body), {}  # raises the codec's 400 with kube's wording


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_ok(node: Any, schema: Obj) -> bool:
    """Whether ``node``'s JSON type is one ``schema`` allows (``type``, or a ``oneOf`` of types); null always is."""
    t = schema.get("type")
    if t is None:
        one = schema.get("oneOf")
        return not one or node is None or any(_type_ok(node, sub) for sub in one)
    name = _type_name(node)
    types = (t,) if isinstance(t, str) else t
    return (name in types or name == "null" or (name == "integer" and "number" in types)
            or (name == "number" and "integer" in types and float(node).is_integer()))


class _Schema:
    """A schema node resolved once, with what the walk asks of it (the walk runs on every write)."""

    __slots__ = ("schema", "types", "one_of", "props", "extra", "items")

    def __init__(self, schema: Obj) -> None:
        self.schema = schema
        r = schemas.resolve(schema)
        t = r.get("type")
        self.types: tuple[str, ...] | None = None if t is None else (t,) if isinstance(t, str) else tuple(t)
        one = r.get("oneOf") if t is None else None
        self.one_of: list[Obj] | None = one if one else None
        props, extra, items = r.get("properties"), r.get("additionalProperties"), r.get("items")
        self.props: Obj | None = props if isinstance(props, dict) else None
        self.extra: Obj | None = extra if isinstance(extra, dict) else None
        self.items: Obj | None = items if isinstance(items, dict) else None


_COMPILED: dict[int, _Schema] = {}
_NAMES = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array", dict: "object",
          type(None): "null"}


def _compiled(schema: Obj) -> _Schema:
    c = _COMPILED.get(id(schema))
    if c is None or c.schema is not schema:  # schemas of the loaded definitions live (and keep their ids) forever
        c = _COMPILED[id(schema)] = _Schema(schema)
    return c


@functools.cache
def _root(name: str) -> Obj:
    return {"$ref": schemas.REF_PREFIX + name}


def _ok(node: Any, c: _Schema) -> bool:
    """:func:`_type_ok` on a compiled schema."""
    types = c.types
    if types is None:
        return c.one_of is None or node is None or any(_type_ok(node, sub) for sub in c.one_of)
    name = _NAMES.get(type(node)) or _type_name(node)
    return (name in types or name == "null" or (name == "integer" and "number" in types)
            or (name == "number" and "integer" in types and float(node).is_integer()))


def _walk(node: Any, schema: Obj, path: str, dups: Dups, out: list[str], old: Any, bad: list[str]) -> None:
    """Report (and drop) unknown fields, report duplicates, in document order; note wrong types in ``bad``."""
    c = _compiled(schema)
    if not _ok(node, c):
        bad.append(path)
        return
    if isinstance(node, dict):
        _fields(node, c, path, dups, out, old, bad)
    elif isinstance(node, list):
        items = c.items
        if items is not None:
            old_list = old if isinstance(old, list) else []
            for i, value in enumerate(node):
                _walk(value, items, f"{path}[{i}]", dups, out, old_list[i] if i < len(old_list) else _ABSENT, bad)


def _fields(node: dict[str, Any], c: _Schema, path: str, dups: Dups, out: list[str], old: Any,
            bad: list[str]) -> None:
    props, extra = c.props, c.extra
    if props is None and extra is None:
        _duplicates(node, path, dups, out)
        return
    repeated = dups.get(id(node), ()) if dups else ()
    old_map = old if isinstance(old, dict) else {}
    for key in list(node) if props is not None else node:
        sub = props.get(key) if props is not None else extra
        if sub is None:
            if key not in old_map:
                out.append(f'unknown field "{_join(path, key)}"')
                del node[key]
            continue
        if key in repeated:
            out.append(f'duplicate field "{_join(path, key)}"')
        value = node[key]
        if isinstance(value, (dict, list)):
            if not dups and key in old_map and old_map[key] == value:
                continue  # as stored, so checked when it was written: an update's untouched parts cost a compare
            _walk(value, sub, _join(path, key), dups, out, old_map.get(key, _ABSENT), bad)
        elif not _ok(value, _compiled(sub)):  # a scalar: only its type to check, no path unless it is wrong
            bad.append(_join(path, key))


def _duplicates(node: Any, path: str, dups: Dups, out: list[str]) -> None:
    """Duplicates anywhere under ``node``, without a schema (patch bodies, open objects)."""
    if not dups:
        return
    if isinstance(node, dict):
        repeated = dups.get(id(node), ())
        for key, value in node.items():
            p = _join(path, key)
            if key in repeated:
                out.append(f'duplicate field "{p}"')
            _duplicates(value, p, dups, out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _duplicates(value, f"{path}[{i}]", dups, out)


def unknown_and_duplicates(s: Strategy, obj: Obj, dups: Dups | None = None, old: Obj | None = None) -> list[str]:
    """Drop the fields ``s``'s schema does not know from ``obj``; the findings, kube-worded, in order."""
    return _scan(s, obj, dups, old)[0]


def _scan(s: Strategy, obj: Obj, dups: Dups | None, old: Obj | None) -> tuple[list[str], bool]:
    """One walk: unknown and duplicate fields, and whether any type looked wrong (jsonschema then says how)."""
    name = schemas.name_for(s.group, s.version, s.kind)
    out: list[str] = []
    bad: list[str] = []
    if name is None:
        _duplicates(obj, "", dups or {}, out)
    else:
        _walk(obj, _root(name), "", dups or {}, out, _ABSENT if old is None else old, bad)
    return out, bool(bad)


@functools.cache
def _registry() -> Registry[Any]:
    doc = schemas.document()
    resource: Resource[Any] = Resource.from_contents(doc, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(str(doc["$id"]), resource)
    return registry


@functools.cache
def validator(group: str, version: str, kind: str) -> Validator | None:
    """The compiled jsonschema validator of one kind, built on first use; None for kinds kube lacks."""
    name = schemas.name_for(group, version, kind)
    if name is None:
        return None
    ref = f'{schemas.document()["$id"]}#/$defs/{name}'
    v: Validator = Draft202012Validator({"$ref": ref}, registry=_registry())
    return v


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _types(schema: Any) -> list[str]:
    t = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(t, str):
        return [t] if t != "null" else []
    return [x for x in t or [] if x != "null"]


def _path(parts: Iterable[str | int]) -> str:
    out = ""
    for p in parts:
        out = out + f"[{p}]" if isinstance(p, int) else _join(out, p)
    return out


def type_causes(s: Strategy, obj: Obj) -> list[Cause]:
    """One 422 cause per field whose JSON type the kind's schema does not allow."""
    v = validator(s.group, s.version, s.kind)
    if v is None:
        return []
    causes: list[Cause] = []
    for e in v.iter_errors(obj):
        if e.validator == "type":
            expected = _types({"type": e.validator_value})
        elif e.validator == "oneOf" and e.instance is not None and isinstance(e.validator_value, list):
            expected = [t for sub in e.validator_value for t in _types(sub)]
        else:
            continue
        if not expected:
            continue
        path = _path(e.absolute_path) or "<root>"
        actual = _type_name(e.instance)
        causes.append(invalid_value(path, actual, f'{path} in body must be of type {",".join(expected)}: "{actual}"'))
    return causes


def strict_error(problems: list[str], s: Strategy | None = None) -> BadRequest:
    msg = "strict decoding error: " + ", ".join(problems)
    if s is not None:
        msg = f'{s.kind} in version "{s.version}" cannot be handled as a {s.kind}: {msg}'
    return BadRequest(msg)


def check(s: Strategy, obj: Obj, directive: str, dups: Dups | None = None, old: Obj | None = None,
          patch_problems: list[str] | None = None) -> list[str]:
    """Validate a whole object about to be written; returns the warnings to send (Warn), raises otherwise.

    ``patch_problems`` are the duplicates already found in a patch body: a patch
    reports them first, then the unknown fields of the patched object, without
    the "cannot be handled as" prefix of a create or an update.
    """
    found, suspect = _scan(s, obj, dups, old)
    if patch_problems is not None:
        found = patch_problems + found
    if found and directive == STRICT:
        raise strict_error(found, None if patch_problems is not None else s)
    causes = type_causes(s, obj) if suspect else []
    if causes:
        meta = obj.get("metadata")
        name = str(meta.get("name") or meta.get("generateName") or "") if isinstance(meta, dict) else ""
        raise FieldsInvalid(s.resource, name, causes)
    return found if directive == WARN else []


def patch_duplicates(body_obj: Any, dups: Dups) -> list[str]:
    out: list[str] = []
    _duplicates(body_obj, "", dups, out)
    return out


def warning_header(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


def add_warnings(resp: R, warnings: list[str]) -> R:
    for w in dict.fromkeys(warnings):
        resp.headers.add("Warning", warning_header(w))
    return resp
