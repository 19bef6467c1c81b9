"""Field paths and field sets in Kubernetes' ``FieldsV1`` form (structured-merge-diff's ``fieldpath``).

A path is a tuple of path elements spelled exactly as ``fieldsV1`` spells
them, so no translation is ever needed: ``f:spec`` (a field), ``k:{"name":"x"}``
(the item of an associative list, keys as compact JSON sorted by key),
``v:"a"`` (a member of a set list), ``i:3`` (an index in an atomic-less list
without keys). A field set is a plain ``set`` of member paths; ``fieldsV1``
nests them as a trie where ``".": {}`` marks a node that is itself a member
and also has children.

:func:`walk` is structured-merge-diff's ``ToFieldSet`` and ``Compare`` in one
pass over a typed value: it reports every node with its value, whether it is a
leaf (scalar, atomic list or map) and whether it is a *member* of the object's
field set (leaves, list items, map entries, empty or null values).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import orjson

from kubelite.api.schematypes import KEY_DEFAULTS, Type

Path = tuple[str, ...]
KEPT_TOP_LEVEL = ("metadata", "spec")  # Go structs, never omitted; any other emptied container goes (omitempty)
FieldSet = set[Path]


def field(name: str) -> str:
    return "f:" + name


def _compact(v: Any) -> str:
    # orjson writes strings, integers and booleans exactly as json.dumps(ensure_ascii=False) does (not floats);
    # it raises TypeError on what it cannot (lone surrogates, integers beyond 64 bits): then json does it.
    if isinstance(v, str) or (isinstance(v, dict) and all(type(x) in (str, int, bool) for x in v.values())):
        try:
            return orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:
            pass
    return json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def key_element(item: dict[str, Any], keys: list[str]) -> str | None:
    """The ``k:{...}`` element of an associative-list item, or None when a key is missing."""
    found: dict[str, Any] = {}
    for k in keys:
        if k in item and item[k] is not None:
            found[k] = item[k]
        elif k in KEY_DEFAULTS:
            found[k] = KEY_DEFAULTS[k]
        else:
            return None
    return "k:" + _compact(found)


def value_element(v: Any) -> str:
    return "v:" + _compact(v)


def path_string(path: Path) -> str:
    """A path as Kubernetes prints it in conflict messages: ``.spec.containers[name="nginx"].image``."""
    out = []
    for el in path:
        kind, rest = el[:2], el[2:]
        if kind == "f:":
            out.append("." + rest)
        elif kind == "k:":
            keys = json.loads(rest)
            out.append("[" + ",".join(f"{k}={_go_string(v)}" for k, v in sorted(keys.items())) + "]")
        elif kind == "v:":
            out.append(f"[={_go_string(json.loads(rest))}]")
        else:
            out.append(f"[{rest}]")
    return "".join(out)


def _go_string(v: Any) -> str:
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return _compact(v)


# -- fieldsV1 <-> set --------------------------------------------------------------


def encode(fields: Iterable[Path]) -> dict[str, Any]:
    """A set of member paths as a ``fieldsV1`` trie.

    Sorted paths put every node's children in order and every path before its
    descendants, so a member node gets its ``"."`` (which sorts first) when its
    first child arrives, all in one pass.
    """
    root: dict[str, Any] = {}
    member_nodes: set[int] = set()
    for path in sorted(set(fields)):
        node = root
        for el in path:
            sub = node.get(el)
            if sub is None:
                if not node and id(node) in member_nodes:
                    node["."] = {}
                sub = node[el] = {}
            node = sub
        member_nodes.add(id(node))
    return root


def decode(fields: Any) -> FieldSet:
    """The member paths of a ``fieldsV1`` trie; anything malformed raises ValueError."""
    if not isinstance(fields, dict):
        raise ValueError("fieldsV1 must be an object")
    out: FieldSet = set()
    _collect(fields, (), out)
    return out


def _collect(node: dict[str, Any], prefix: Path, out: FieldSet) -> None:
    for el, sub in node.items():
        if el == ".":
            if prefix:
                out.add(prefix)
            continue
        if el[:2] not in ("f:", "k:", "v:", "i:") or not isinstance(sub, dict):
            raise ValueError(f"invalid path element {el!r}")
        p = (*prefix, el)
        if sub:
            _collect(sub, p, out)
        else:
            out.add(p)


def prefixes(fields: Iterable[Path]) -> set[Path]:
    """Every member with all its ancestors: what a set touches at all."""
    out: set[Path] = set()
    for p in fields:
        for i in range(1, len(p) + 1):
            out.add(p[:i])
    return out


# -- walking a typed value ---------------------------------------------------------------


class Node(NamedTuple):
    value: Any
    leaf: bool
    member: bool


def walk(value: Any, t: Type | None) -> dict[Path, Node]:
    """Every node below the root of ``value`` (read with schema ``t``), by path."""
    out: dict[Path, Node] = {}
    _walk(value, t, (), out)
    return out


def _walk(value: Any, t: Type | None, path: Path, out: dict[Path, Node]) -> None:
    kind = t.kind if t is not None else "untyped"
    if isinstance(value, dict) and kind in ("struct", "map", "untyped"):
        if t is not None and t.atomic:
            out[path] = Node(value, True, True)
            return
        if not value and path:
            out[path] = Node(value, True, True)
            return
        walk_fields(value, t, path, out)
        return
    if isinstance(value, list) and kind in ("list", "untyped"):
        lt = t.list_type if t is not None else "atomic"
        if lt == "atomic":
            out[path] = Node(value, True, True)
            return
        sub = t.items() if t is not None else None
        keys = t.list_keys if t is not None else []
        for i, item in enumerate(value):
            p = (*path, _item_element(item, lt, keys, i))
            if lt == "map":
                _walk(item, sub, p, out)
            out[p] = Node(item, lt != "map", True)
        return
    out[path] = Node(value, True, True)


def walk_fields(value: dict[str, Any], t: Type | None, path: Path, out: dict[Path, Node],
                skip: tuple[str, ...] = ()) -> None:
    """The fields of a struct or map at ``path`` (but ``skip``), into ``out``, as :func:`walk` reports them."""
    for k, v in value.items():
        if k in skip:
            continue
        sub = t.field(k) if t is not None else None
        p = (*path, "f:" + k)
        if not isinstance(v, (dict, list)):  # a scalar: a leaf whatever its schema says
            out[p] = Node(v, True, True)
            continue
        _walk(v, sub, p, out)
        if p not in out:  # a container with children: a member only as an entry of a map
            out[p] = Node(v, False, t is None or not t.is_field(k))


def member_trie(value: Any, t: Type | None) -> dict[str, Any]:
    """The ``fieldsV1`` of ``value`` as a member with everything below it: what one manager that wrote all of
    it owns. The same as ``encode`` of every path ``walk`` finds (each container with children marked
    ``"."``), built in one pass without paths, sets or sorting them: every create computes it."""
    kind = t.kind if t is not None else "untyped"
    children: dict[str, Any] = {}
    if isinstance(value, dict) and kind in ("struct", "map", "untyped"):
        if (t is not None and t.atomic) or not value:
            return {}
        for k, v in value.items():
            sub = t.field(k) if t is not None else None
            children["f:" + k] = member_trie(v, sub) if isinstance(v, (dict, list)) else {}
    elif isinstance(value, list) and kind in ("list", "untyped"):
        lt = t.list_type if t is not None else "atomic"
        if lt == "atomic":
            return {}
        sub = t.items() if t is not None else None
        keys = t.list_keys if t is not None else []
        for i, item in enumerate(value):
            el = _item_element(item, lt, keys, i)
            node = member_trie(item, sub) if lt == "map" else {}
            children[el] = _merge(children[el], node) if el in children else node
    if not children:
        return {}
    return {".": {}, **dict(sorted(children.items()))}


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two tries of one path (list items with the same key): the union, sorted."""
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if k in out else v
    if len(out) > 1 and "." not in out:
        out = {".": {}, **out}
    return dict(sorted(out.items())) if out else {}


def _item_element(item: Any, list_type: str, keys: list[str], index: int) -> str:
    if list_type == "set" or not isinstance(item, dict):
        return value_element(item)
    return key_element(item, keys) or f"i:{index}"


def members(nodes: dict[Path, Node]) -> FieldSet:
    return {p for p, n in nodes.items() if n.member}


# -- navigating an object by path ----------------------------------------------------------------


def _matches(item: Any, el: str) -> bool:
    if el.startswith("k:"):
        if not isinstance(item, dict):
            return False
        keys = json.loads(el[2:])
        return all(item.get(k, KEY_DEFAULTS.get(k)) == v for k, v in keys.items())
    return bool(el.startswith("v:") and item == json.loads(el[2:]))


def remove(obj: Any, path: Path) -> bool:
    """Remove the node at ``path`` from ``obj`` in place, then the containers it left empty."""
    trail: list[tuple[Any, Any]] = []
    cur = obj
    for el in path:
        if isinstance(cur, dict) and el.startswith("f:") and el[2:] in cur:
            trail.append((cur, el[2:]))
            cur = cur[el[2:]]
        elif isinstance(cur, list):
            idx = next((i for i, x in enumerate(cur) if _matches(x, el)), None)
            if idx is None and el.startswith("i:") and el[2:].isdigit() and int(el[2:]) < len(cur):
                idx = int(el[2:])
            if idx is None:
                return False
            trail.append((cur, idx))
            cur = cur[idx]
        else:
            return False
    while trail:
        container, key = trail.pop()
        del container[key]
        if container or not trail or (len(trail) == 1 and trail[0][1] in KEPT_TOP_LEVEL):
            break
    return True


def iter_sorted(paths: Iterable[Path]) -> Iterator[Path]:
    return iter(sorted(paths, key=lambda p: (len(p), p)))
