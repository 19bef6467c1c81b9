"""Per-field type knowledge for the patch engines, read from Kubernetes' own OpenAPI schemas.

Strategic merge patch and server-side apply both need to know, for every
field, how a value merges: is this object a struct (fields known, each merged
on its own), a map (``labels``: every key granular) or atomic (a
``LabelSelector`` is replaced whole); is this list atomic, a set of scalars,
or a map keyed by ``name`` / ``containerPort``+``protocol``; which
``patchStrategy`` and ``patchMergeKey`` the Go structs declare. Kubernetes
publishes exactly this in its OpenAPI (``x-kubernetes-list-type``,
``x-kubernetes-list-map-keys``, ``x-kubernetes-map-type``,
``x-kubernetes-patch-strategy``, ``x-kubernetes-patch-merge-key``), and the
``kubernetes-validate`` package ships those schemas per release; we walk its
1.32 definitions, as :mod:`kubelite.api.schemas` loads them (once, lazily), by
``$ref``.

A :class:`Type` is one position in that tree: the property schema (which
carries the list and patch annotations) plus its resolved definition.
Anything the schema does not describe (unknown fields, embedded raw objects)
gets ``None``, which callers treat like structured-merge-diff's "deduced"
type: objects merge key by key, lists are atomic.
"""

from __future__ import annotations

import functools
from typing import Any

from kubelite.api.schemas import REF_PREFIX, name_for, resolve

# Defaults of list-map key fields that clients may omit (structured-merge-diff reads them from the schema).
KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}


def _types(node: dict[str, Any]) -> set[str]:
    t = node.get("type")
    if isinstance(t, list):
        return {str(x) for x in t}
    return {str(t)} if t else set()


class Type:
    """One position in the schema tree: how the value found there merges.

    Types are interned by the identity of their property schema (the loaded
    definitions never change) and compute their annotations once: the walks of
    server-side apply and strategic merge ask for them at every node of every write.
    """

    __slots__ = ("prop", "node", "kind", "atomic", "list_type", "list_keys", "_fields", "_extra", "_items")

    def __new__(cls, prop: dict[str, Any]) -> Type:
        t = _INTERNED.get(id(prop))
        if t is not None and t.prop is prop:
            return t
        t = super().__new__(cls)
        t.prop = prop
        t.node = resolve(prop)
        t.kind = t._kind()
        t.atomic = bool(t._ann("x-kubernetes-map-type") == "atomic")
        t.list_type = t._list_type()
        t.list_keys = t._list_keys()
        t._fields = {}
        t._extra = {}
        t._items = _UNSET
        _INTERNED[id(prop)] = t
        return t

    prop: dict[str, Any]
    node: dict[str, Any]
    kind: str  # ``struct``, ``map``, ``list`` or ``scalar``; ``untyped`` for free-form values
    atomic: bool  # a map or struct replaced whole (``x-kubernetes-map-type: atomic``)
    list_type: str
    list_keys: list[str]
    _fields: dict[str, Any]
    _extra: dict[str, Type | None]
    _items: Any

    def _ann(self, key: str) -> Any:
        return self.prop.get(key, self.node.get(key))

    def _kind(self) -> str:
        n = self.node
        if n.get("x-kubernetes-preserve-unknown-fields") or n.get("x-kubernetes-embedded-resource"):
            return "untyped"
        types = _types(n)
        if "array" in types:
            return "list"
        if "properties" in n:
            return "struct"
        if "additionalProperties" in n or "object" in types:
            return "map"
        return "scalar"

    def _list_type(self) -> str:
        lt = self._ann("x-kubernetes-list-type")
        if lt in ("atomic", "set", "map"):
            return str(lt)
        if self._ann("x-kubernetes-patch-merge-key"):
            return "map"
        return "atomic"

    def _list_keys(self) -> list[str]:
        keys = self._ann("x-kubernetes-list-map-keys")
        if isinstance(keys, list) and keys:
            return [str(k) for k in keys]
        mk = self._ann("x-kubernetes-patch-merge-key")
        return [str(mk)] if mk else []

    @property
    def patch_strategies(self) -> set[str]:
        raw = self._ann("x-kubernetes-patch-strategy")
        return set(str(raw).split(",")) if raw else set()

    @property
    def merge_key(self) -> str:
        return str(self._ann("x-kubernetes-patch-merge-key") or "")

    def field(self, name: str) -> Type | None:
        t = self._fields.get(name, _UNSET)
        if t is not _UNSET:
            out: Type | None = t
            return out
        props = self.node.get("properties")
        if isinstance(props, dict) and name in props:
            self._fields[name] = t = Type(props[name])
            return t
        # Map entries (labels...) are not remembered by name: their keys are the users', unbounded.
        if "" not in self._extra:
            extra = self.node.get("additionalProperties")
            self._extra[""] = Type(extra) if isinstance(extra, dict) else None
        return self._extra[""]

    def items(self) -> Type | None:
        if self._items is _UNSET:
            it = self.node.get("items")
            self._items = Type(it) if isinstance(it, dict) else None
        out: Type | None = self._items
        return out

    def is_field(self, name: str) -> bool:
        """Whether ``name`` is a declared struct field (not an entry of a map)."""
        props = self.node.get("properties")
        return isinstance(props, dict) and name in props


_INTERNED: dict[int, Type] = {}
_UNSET = object()


@functools.cache
def type_for(api_version: str, kind: str) -> Type | None:
    """The schema of a top-level kind, or None when we have no schema for it."""
    group, _, version = api_version.rpartition("/")
    name = name_for(group, version, kind)
    return Type({"$ref": REF_PREFIX + name}) if name else None


def child(t: Type | None, name: str) -> Type | None:
    return t.field(name) if t is not None else None


def items(t: Type | None) -> Type | None:
    return t.items() if t is not None else None
