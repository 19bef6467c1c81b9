"""The patch engines: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch.

All three are pure functions over decoded JSON (they never mutate their
inputs) and raise :class:`~kubelite.api.errors.BadRequest` or
:class:`~kubelite.api.errors.FieldsInvalid`-free ``Invalid`` errors for a patch
that cannot apply, which the HTTP edge reports as 4xx.

Strategic merge patch reads the Go structs' ``patchStrategy``/``patchMergeKey``
tags from Kubernetes' OpenAPI (:mod:`kubelite.api.schematypes`, looked up by the
object's apiVersion and kind): ``containers`` merge by ``name``, container
``ports`` by ``containerPort``, ``volumeMounts`` by ``mountPath``, ``finalizers``
as a set; lists without ``patchStrategy: merge`` (``tolerations``, ``args``) are
replaced. Kinds or fields without a schema fall back to a table of merge keys
by field name. The directives ``$patch: replace|delete`` (maps and list items),
``$deleteFromPrimitiveList/<list>``, ``$setElementOrder/<list>`` and
``$retainKeys`` behave as in apimachinery's ``strategicpatch``, including its
ordering of merged lists.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from kubelite.api import jsonfast
from kubelite.api.errors import BadRequest
from kubelite.api.schematypes import Type, type_for

JSON = Any

MERGE_KEYS: dict[str, str] = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
    "env": "name", "imagePullSecrets": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "conditions": "type", "ownerReferences": "uid", "hostAliases": "ip", "topologySpreadConstraints":
    "topologyKey", "resourceClaims": "name", "schedulingGates": "name", "readinessGates": "conditionType",
    "addresses": "type", "taints": "key", "subsets": "", "containerStatuses": "name",
}
PRIMITIVE_MERGE = {"finalizers"}  # lists of scalars merged as sets


class PatchFailed(BadRequest):
    """A patch that cannot be applied to the current object."""


# -- JSON merge patch ---------------------------------------------------------


def merge_patch(target: JSON, patch: JSON) -> JSON:
    """RFC 7386. ``target`` is left as it was, but the result shares the subtrees the patch does not touch
    (copying a whole pod for a status patch was most of its cost); nothing of ``patch`` is shared."""
    if not isinstance(patch, dict):
        return jsonfast.copy(patch) if isinstance(patch, list) else patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# -- JSON patch -----------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchFailed(f"the server rejected our request due to an error in our request: invalid path {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], tok: str, adding: bool, path: str) -> int:
    if tok == "-" and adding:
        return len(container)
    if not tok.isdigit() or (len(tok) > 1 and tok[0] == "0"):
        raise PatchFailed(f"invalid array index {tok!r} in path {path!r}")
    i = int(tok)
    if i > len(container) or (not adding and i == len(container)):
        raise PatchFailed(f"array index {i} out of bounds in path {path!r}")
    return i


def _parent(doc: JSON, toks: list[str], path: str) -> JSON:
    cur = doc
    for t in toks[:-1]:
        if isinstance(cur, dict) and t in cur:
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(cur, t, False, path)]
        else:
            raise PatchFailed(f"doc is missing path: \"{path}\": missing value")
    return cur


def _get(doc: JSON, path: str) -> JSON:
    toks = _pointer(path)
    if not toks:
        return doc
    parent = _parent(doc, toks, path)
    if isinstance(parent, dict):
        if toks[-1] not in parent:
            raise PatchFailed(f"doc is missing path: \"{path}\": missing value")
        return parent[toks[-1]]
    if isinstance(parent, list):
        return parent[_index(parent, toks[-1], False, path)]
    raise PatchFailed(f"doc is missing path: \"{path}\": missing value")


def _remove(doc: JSON, path: str) -> JSON:
    toks = _pointer(path)
    if not toks:
        raise PatchFailed("cannot remove the whole document")
    parent = _parent(doc, toks, path)
    if isinstance(parent, dict) and toks[-1] in parent:
        return parent.pop(toks[-1])
    if isinstance(parent, list):
        return parent.pop(_index(parent, toks[-1], False, path))
    raise PatchFailed(f"Unable to remove nonexistent key: {toks[-1]}: missing value")


def _add(doc: JSON, path: str, value: JSON, replace: bool = False) -> JSON:
    toks = _pointer(path)
    if not toks:
        return value
    parent = _parent(doc, toks, path)
    if isinstance(parent, dict):
        if replace and toks[-1] not in parent:
            raise PatchFailed(f"replace operation does not apply: doc is missing key: {path}: missing value")
        parent[toks[-1]] = value
    elif isinstance(parent, list):
        i = _index(parent, toks[-1], not replace, path)
        if replace:
            parent[i] = value
        else:
            parent.insert(i, value)
    else:
        raise PatchFailed(f"doc is missing path: \"{path}\": missing value")
    return doc


def json_patch(target: JSON, ops: JSON) -> JSON:
    if not isinstance(ops, list):
        raise BadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = jsonfast.copy(target)  # the operations change it in place
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise PatchFailed("Unexpected kind: missing op")
        kind, path = op["op"], op.get("path")
        if not isinstance(path, str):
            raise PatchFailed(f"{kind} operation does not apply: missing path")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchFailed(f"{kind} operation does not apply: missing value")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op["value"]), replace=True)
        elif kind in ("move", "copy"):
            src = op.get("from")
            if not isinstance(src, str):
                raise PatchFailed(f"{kind} operation does not apply: missing from")
            val = _remove(doc, src) if kind == "move" else copy.deepcopy(_get(doc, src))
            doc = _add(doc, path, val)
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise PatchFailed(f"testing value {path} failed: test failed")
        else:
            raise PatchFailed(f"Unexpected kind: {kind}")
    return doc


# -- strategic merge patch ------------------------------------------------------------
#
# apimachinery's strategicpatch.mergeMap/mergeSlice, driven by the schema of the kind
# (kubelite.api.schematypes): a list merges only where its field declares
# ``patchStrategy: merge`` (by its ``patchMergeKey``, or as a set of scalars), and a
# struct with ``retainKeys`` honours ``$retainKeys``. Without a schema (unknown kinds or
# fields) the merge keys of MERGE_KEYS stand in.


@dataclass(frozen=True)
class _Field:
    t: Type | None
    merge: bool
    key: str
    replace: bool = False


def _lookup(parent: Type | None, name: str, items: list[Any]) -> _Field:
    sub = parent.field(name) if parent is not None else None
    if sub is not None and (parent is not None and parent.is_field(name)):
        strategies = sub.patch_strategies
        return _Field(sub, "merge" in strategies, sub.merge_key, "replace" in strategies)
    key = _merge_key(name, items)
    return _Field(sub, bool(key) or name in PRIMITIVE_MERGE, key)


def _merge_key(field: str, items: list[Any]) -> str:
    if field == "ports":
        return "containerPort" if any(isinstance(i, dict) and "containerPort" in i for i in items) else "port"
    return MERGE_KEYS.get(field, "")


def strategic_merge(target: JSON, patch: JSON, schema: Type | None = None) -> JSON:
    if not isinstance(patch, dict):
        raise BadRequest("strategic merge patch must be a JSON object")
    orig = target if isinstance(target, dict) else {}
    if schema is None:
        schema = type_for(str(orig.get("apiVersion") or patch.get("apiVersion") or ""),
                          str(orig.get("kind") or patch.get("kind") or ""))
    return _smp_map(orig, patch, schema)


def _smp_map(orig: dict[str, Any], patch: dict[str, Any], t: Type | None) -> dict[str, Any]:
    directive = patch.get("$patch")
    if directive == "replace":
        return _smp_map({}, {k: v for k, v in patch.items() if k != "$patch"}, t)
    if directive == "delete":
        return {}
    if directive is not None:
        raise PatchFailed(f"Unknown patch type: {directive} in map: {patch}")
    out = dict(orig)  # subtrees the patch does not touch are shared, as in merge_patch
    retain = patch.get("$retainKeys")
    if retain is not None:
        if not isinstance(retain, list):
            raise PatchFailed("invalid patch: $retainKeys must be a list")
        for k in patch:
            if not k.startswith("$") and k not in retain:
                raise PatchFailed(f"The patch is invalid: {k} is not present in the $retainKeys list")
        out = {k: v for k, v in out.items() if k in retain}
    orders: dict[str, list[Any]] = {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/"):
            if not isinstance(v, list):
                raise PatchFailed(f"invalid patch: {k} must be a list")
            orders[k.split("/", 1)[1]] = v
        elif k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            if isinstance(out.get(name), list) and isinstance(v, list):
                out[name] = [x for x in out[name] if x not in v]
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        cur = out.get(k)
        meta = _lookup(t, k, (cur if isinstance(cur, list) else []) + (v if isinstance(v, list) else []))
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            if meta.replace and isinstance(cur, dict):
                out[k] = _clean(v, meta.t)
            else:
                out[k] = _smp_map(cur if isinstance(cur, dict) else {}, v, meta.t)
        elif isinstance(v, list):
            out[k] = _smp_list(meta, cur if isinstance(cur, list) else [], v)
        else:
            out[k] = v  # a scalar
    for name, order in orders.items():
        cur = out.get(name)
        if isinstance(cur, list):
            meta = _lookup(t, name, cur)
            before = orig.get(name)
            out[name] = _with_order(cur, order, before if isinstance(before, list) else [], meta.key)
    return out


def _clean(v: Any, t: Type | None) -> Any:
    """A patch value taken as is: its directives and nulls dropped."""
    if isinstance(v, dict):
        return _smp_map({}, v, t)
    if isinstance(v, list):
        return [_clean(x, t.items() if t is not None else None) for x in v
                if not (isinstance(x, dict) and "$patch" in x)]
    return v  # a scalar


def _ident(key: str) -> Any:
    def ident(x: Any) -> Any:
        return json.dumps(x.get(key), sort_keys=True) if key and isinstance(x, dict) else json.dumps(x, sort_keys=True)
    return ident


def _smp_list(meta: _Field, orig: list[Any], patch: list[Any]) -> list[Any]:
    if not meta.merge:
        return _clean(patch, meta.t)  # type: ignore[no-any-return]
    sub = meta.t.items() if meta.t is not None else None
    if all(not isinstance(x, dict) for x in orig + patch):
        merged = list(orig) + [x for i, x in enumerate(patch) if x not in orig and x not in patch[:i]]
        ident = _ident("")
    else:
        key = meta.key
        if not key:
            raise PatchFailed("cannot merge lists without merge key")
        ident = _ident(key)
        cur = list(orig)  # elements are replaced, never changed in place
        plain: list[dict[str, Any]] = []
        replace = False
        for item in patch:
            if not isinstance(item, dict):
                raise PatchFailed(f"strategic merge patch: a list merged by {key!r} holds a non-object element")
            d = item.get("$patch")
            if d is None:
                plain.append(item)
            elif d == "delete":
                if key not in item:
                    raise PatchFailed(f"map: {item} does not contain declared merge key: {key}")
                cur = [x for x in cur if not (isinstance(x, dict) and x.get(key) == item[key])]
            elif d == "replace":
                replace = True
            elif d == "merge":
                raise PatchFailed("merging lists cannot yet be specified in the patch")
            else:
                raise PatchFailed(f"Unknown patch type: {d} in map: {item}")
        if replace:
            return [_clean(x, sub) for x in plain]
        for item in plain:
            if key not in item:
                raise PatchFailed(f"map: {item} does not contain declared merge key: {key}")
            idx = next((i for i, x in enumerate(cur) if isinstance(x, dict) and x.get(key) == item[key]), None)
            if idx is None:
                cur.append(_smp_map({}, item, sub))
            else:
                cur[idx] = _smp_map(cur[idx], item, sub)
        merged = cur
    in_patch = {ident(x) for x in patch if not (isinstance(x, dict) and "$patch" in x)}
    patch_items = [x for x in merged if ident(x) in in_patch]
    server_only = [x for x in merged if ident(x) not in in_patch]
    return _normalize(patch_items, server_only, patch, orig, ident)


def _normalize(patch_items: list[Any], server_only: list[Any], patch_order: list[Any], server_order: list[Any],
               ident: Any) -> list[Any]:
    """apimachinery's normalizeElementOrder: patch items in patch order, interleaved with the server's own."""
    def sort_by(items: list[Any], order: list[Any]) -> list[Any]:
        pos = {ident(o): i for i, o in reversed(list(enumerate(order)))}
        known = sorted((x for x in items if ident(x) in pos), key=lambda x: pos[ident(x)])
        return known + [x for x in items if ident(x) not in pos]

    left, right = sort_by(server_only, server_order), sort_by(patch_items, patch_order)
    where = {ident(o): i for i, o in enumerate(server_order)}
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            out.append(left[i])
            i += 1
        elif i >= len(left):
            out.append(right[j])
            j += 1
        else:
            li, ri = where.get(ident(left[i])), where.get(ident(right[j]))
            if li is not None and ri is not None and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _with_order(items: list[Any], order: list[Any], orig: list[Any], key: str) -> list[Any]:
    """``$setElementOrder``: the listed items in that order, the server's others kept where they were."""
    ident = _ident(key)
    wanted = {ident(o) for o in order}
    return _normalize([x for x in items if ident(x) in wanted], [x for x in items if ident(x) not in wanted],
                      order, orig, ident)
