"""The patch engines: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch.

All three are pure functions over decoded JSON (they never mutate their
inputs) and raise :class:`~kubelite.api.errors.BadRequest` or
:class:`~kubelite.api.errors.FieldsInvalid`-free ``Invalid`` errors for a patch
that cannot apply, which the HTTP edge reports as 4xx.

Strategic merge patch knows the merge keys of the built-in types by field
name (``containers`` merge by ``name``, ``ports`` by ``containerPort`` or
``port``...), which is what the Go structs' ``patchMergeKey`` tags say; lists
without a merge key are replaced, as Kubernetes does for atomic lists. The
directives ``$patch: delete|replace|merge``, ``$deleteFromPrimitiveList/...``,
``$setElementOrder/...`` and ``$retainKeys`` are understood.
"""

from __future__ import annotations

import copy
from typing import Any

from kubelite.api.errors import BadRequest

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
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
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
    doc = copy.deepcopy(target)
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


def _merge_key(field: str, items: list[Any]) -> str:
    if field == "ports":
        return "containerPort" if any(isinstance(i, dict) and "containerPort" in i for i in items) else "port"
    return MERGE_KEYS.get(field, "")


def strategic_merge(target: JSON, patch: JSON) -> JSON:
    if not isinstance(patch, dict):
        raise BadRequest("strategic merge patch must be a JSON object")
    return _smp_map(target if isinstance(target, dict) else {}, patch)


def _smp_map(orig: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return {}
    out = copy.deepcopy(orig)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    orders: dict[str, list[Any]] = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v if isinstance(v, list) else []
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            if isinstance(out.get(field), list) and isinstance(v, list):
                out[field] = [x for x in out[field] if x not in v]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            cur = out.get(k)
            merged = _smp_map(cur if isinstance(cur, dict) else {}, v)
            out[k] = merged
        elif isinstance(v, list):
            out[k] = _smp_list(k, out.get(k), v)
        else:
            out[k] = copy.deepcopy(v)
    for field, order in orders.items():
        if isinstance(out.get(field), list):
            out[field] = _reorder(field, out[field], order)
    return out


def _smp_list(field: str, orig: Any, patch: list[Any]) -> list[Any]:
    cur = copy.deepcopy(orig) if isinstance(orig, list) else []
    if field in PRIMITIVE_MERGE:
        return cur + [x for x in patch if x not in cur]
    key = _merge_key(field, cur + patch)
    if not key:
        replace = [x for x in patch if not (isinstance(x, dict) and x.get("$patch") == "replace")]
        return copy.deepcopy(replace)
    for item in patch:
        if not isinstance(item, dict):
            raise BadRequest(f"strategic merge patch: list {field!r} holds a non-object element")
        if item.get("$patch") == "replace":
            return [copy.deepcopy({k: v for k, v in i.items()}) for i in patch if i is not item]
        match = next((i for i, x in enumerate(cur) if isinstance(x, dict) and x.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if match is not None:
                cur.pop(match)
            continue
        if match is None:
            cur.append(_smp_map({}, item))
        else:
            cur[match] = _smp_map(cur[match], item)
    return cur


def _reorder(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    key = _merge_key(field, items)

    def ident(x: Any) -> Any:
        return x.get(key) if key and isinstance(x, dict) else x

    wanted = [o.get(key) if isinstance(o, dict) and key else o for o in order]
    pos = {w: i for i, w in enumerate(wanted)}
    ordered = sorted((x for x in items if ident(x) in pos), key=lambda x: pos[ident(x)])
    return ordered + [x for x in items if ident(x) not in pos]
