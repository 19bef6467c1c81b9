"""Server-side apply: merge an applied configuration into the live object, as structured-merge-diff does.

:func:`apply_config` is ``Updater.Apply``: the configuration merges into the
live object field by field, following the schema (:mod:`kubelite.api.schematypes`):
structs and granular maps key by key, associative lists item by item on
their keys, sets as unions, atomic values replaced. The applier then owns
exactly the fields of its configuration; what it owned before and no longer
applies is *pruned* from the object unless another manager still owns it (or
something under it). Only then are conflicts computed, as the fields this
apply changes that other managers own: a 409 naming them, unless ``force``
moves the ownership to the applier. :func:`server_side_apply` runs it under
the storage's compare-and-swap loop, creating the object when it is absent.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from kubelite.api import fieldpath, managedfields
from kubelite.api.errors import BadRequest, ResourceExists
from kubelite.api.fieldpath import FieldSet, Node
from kubelite.api.managedfields import APPLY, UPDATE, Entry
from kubelite.api.meta import now_rfc3339
from kubelite.api.registry.base import Obj, Strategy
from kubelite.api.schematypes import Type, type_for
from kubelite.api.storage import Storage
from kubelite.errors import NotFound

BEFORE_FIRST_APPLY = "before-first-apply"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def merge(live: Any, config: Any, t: Type | None) -> Any:
    """structured-merge-diff's ``Merge``: ``config`` over ``live``; a null in ``config`` unsets."""
    kind = t.kind if t is not None else "untyped"
    if isinstance(config, dict) and kind in ("struct", "map", "untyped") and not (t is not None and t.atomic):
        out = copy.deepcopy(live) if isinstance(live, dict) else {}
        for k, v in config.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = merge(out.get(k), v, t.field(k) if t is not None else None)
        return out
    if isinstance(config, list) and kind == "list" and t is not None and isinstance(live, list):
        if t.list_type == "set":
            return copy.deepcopy(live) + [copy.deepcopy(x) for x in config if x not in live]
        if t.list_type == "map":
            return _merge_assoc(live, config, t)
    return _strip_nulls(config)


def _merge_assoc(live: list[Any], config: list[Any], t: Type) -> list[Any]:
    keys, sub = t.list_keys, t.items()
    out = copy.deepcopy(live)
    index = {fieldpath.key_element(x, keys): i for i, x in enumerate(out) if isinstance(x, dict)}
    for item in config:
        el = fieldpath.key_element(item, keys) if isinstance(item, dict) else None
        if el is None:
            raise BadRequest(f"associative list with keys has an element that omits key field {keys!r}")
        if el in index:
            out[index[el]] = merge(out[index[el]], item, sub)
        else:
            index[el] = len(out)
            out.append(merge(None, item, sub))
    return out


def _strip_nulls(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _strip_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_strip_nulls(x) for x in v]
    return v


def _clean_config(s: Strategy, config: Obj, subresource: str) -> Obj:
    if not config.get("apiVersion") or not config.get("kind"):
        raise BadRequest("Object 'Kind' is missing in the applied configuration: apiVersion and kind must be set")
    meta = config.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise BadRequest("metadata must be an object")
    if isinstance(meta, dict) and meta.get("managedFields"):
        raise BadRequest("metadata.managedFields must be nil")
    cfg = copy.deepcopy(config)
    if subresource == "status":
        cfg = {k: v for k, v in cfg.items() if k in ("apiVersion", "kind", "metadata", "status")}
    elif s.has_status:
        cfg.pop("status", None)
    return cfg


def apply_config(s: Strategy, live: Obj | None, config: Obj, manager: str, force: bool,
                 subresource: str = "") -> Obj:
    """The new object (with its managedFields) for ``manager`` applying ``config`` over ``live``."""
    t = type_for(s.api_version, s.kind)
    cfg = _clean_config(s, config, subresource)
    base = managedfields.without_managed(live) or {}
    entries = managedfields.base_entries(live, base)
    if live is not None and not live.get("metadata", {}).get("managedFields"):
        owned = fieldpath.members(managedfields.nodes(s, base, subresource))
        entries = [Entry(BEFORE_FIRST_APPLY, UPDATE, s.api_version, now_rfc3339(), owned)]
    merged: Obj = merge(base, cfg, t)

    me = managedfields.find(entries, Entry(manager, APPLY, s.api_version, subresource=subresource))
    last, before = set(me.fields), copy.deepcopy(me)
    me.fields = {p for p in fieldpath.members(fieldpath.walk(cfg, t)) if not managedfields.ignored(p, s, subresource)}
    me.api_version = s.api_version

    owned = fieldpath.prefixes(f for e in entries for f in e.fields)
    for p in fieldpath.iter_sorted(last - owned):
        fieldpath.remove(merged, p)

    old_nodes = managedfields.nodes(s, base, subresource) if live is not None else {}
    new_nodes: dict[fieldpath.Path, Node] = managedfields.nodes(s, merged, subresource)
    changed, removed = managedfields.compare(old_nodes, new_nodes)
    upgrading = manager == "kubectl" and live is not None and LAST_APPLIED in (base["metadata"].get("annotations") or {})
    if upgrading and not force:  # kubectl's client-side apply becoming server-side: its own fields may move
        allowed = _unchanged_since_last_applied(s, base, old_nodes)
        others = {p for e in entries if e.ident != me.ident for p in e.fields & changed}
        force = bool(others) and others <= allowed
    managedfields.reconcile(entries, me, changed, removed, force)
    if upgrading:
        last_applied = {k: v for k, v in cfg.items()}
        meta = dict(last_applied.get("metadata") or {})
        notes = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
        if notes:
            meta["annotations"] = notes
        else:
            meta.pop("annotations", None)
        last_applied["metadata"] = meta
        merged["metadata"].setdefault("annotations", {})[LAST_APPLIED] = json.dumps(last_applied, separators=(",", ":"))
    if changed or removed or me.fields != before.fields or not me.time:
        me.time = now_rfc3339()
    managedfields.store_entries(merged, entries)
    return merged


def _unchanged_since_last_applied(s: Strategy, live: Obj, live_nodes: dict[fieldpath.Path, Node]) -> FieldSet:
    """Fields of the last client-side applied configuration that still hold their applied value."""
    try:
        last = json.loads(live["metadata"]["annotations"][LAST_APPLIED])
    except (ValueError, KeyError, TypeError):
        return set()
    if not isinstance(last, dict):
        return set()
    nodes = managedfields.nodes(s, last, "")
    return {p for p, n in nodes.items() if n.member and p in live_nodes and live_nodes[p].value == n.value}


async def server_side_apply(storage: Storage, s: Strategy, ns: str, name: str, subresource: str, config: Obj,
                            manager: str, force: bool, dry_run: bool) -> tuple[Obj, bool]:
    """Apply through the storage: (the object, whether it was created)."""
    for _ in range(2):
        try:
            await storage.get(s, ns, name)
        except NotFound:
            if subresource:
                raise
            obj = apply_config(s, None, config, manager, force)
            obj.setdefault("metadata", {}).setdefault("name", name)
            fields = obj["metadata"].get("managedFields")

            def keep(_old: Obj | None, new: Obj, fields: Any = fields) -> None:
                if fields:
                    new["metadata"]["managedFields"] = fields

            try:
                return await storage.create(s, ns, obj, dry_run, track=keep), True
            except ResourceExists:
                continue
        new = await storage.update(s, ns, name, lambda live: apply_config(s, live, config, manager, force, subresource),
                                   subresource, dry_run)
        return new, False
    raise ResourceExists(s.resource, name)
