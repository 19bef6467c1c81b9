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
    """One position in the schema tree: how the value found there merges."""

    __slots__ = ("prop", "node")

    def __init__(self, prop: dict[str, Any]) -> None:
        self.prop = prop
        self.node = resolve(prop)

    def _ann(self, key: str) -> Any:
        return self.prop.get(key, self.node.get(key))

    @property
    def kind(self) -> str:
        """``struct``, ``map``, ``list`` or ``scalar``; ``untyped`` for free-form values."""
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

    @property
    def atomic(self) -> bool:
        """A map or struct replaced whole (``x-kubernetes-map-type: atomic``)."""
        return bool(self._ann("x-kubernetes-map-type") == "atomic")

    @property
    def list_type(self) -> str:
        lt = self._ann("x-kubernetes-list-type")
        if lt in ("atomic", "set", "map"):
            return str(lt)
        if self._ann("x-kubernetes-patch-merge-key"):
            return "map"
        return "atomic"

    @property
    def list_keys(self) -> list[str]:
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
        props = self.node.get("properties")
        if isinstance(props, dict) and name in props:
            return Type(props[name])
        extra = self.node.get("additionalProperties")
        if isinstance(extra, dict):
            return Type(extra)
        return None

    def items(self) -> Type | None:
        it = self.node.get("items")
        return Type(it) if isinstance(it, dict) else None

    def is_field(self, name: str) -> bool:
        """Whether ``name`` is a declared struct field (not an entry of a map)."""
        props = self.node.get("properties")
        return isinstance(props, dict) and name in props


def type_for(api_version: str, kind: str) -> Type | None:
    """The schema of a top-level kind, or None when we have no schema for it."""
    group, _, version = api_version.rpartition("/")
    name = name_for(group, version, kind)
    return Type({"$ref": REF_PREFIX + name}) if name else None


def child(t: Type | None, name: str) -> Type | None:
    return t.field(name) if t is not None else None


def items(t: Type | None) -> Type | None:
    return t.items() if t is not None else None
