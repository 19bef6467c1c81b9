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
``kubernetes-validate`` package ships those schemas per release; we read the
1.32 definitions once, lazily, and walk them by ``$ref``.

A :class:`Type` is one position in that tree: the property schema (which
carries the list and patch annotations) plus its resolved definition.
Anything the schema does not describe (unknown fields, embedded raw objects)
gets ``None``, which callers treat like structured-merge-diff's "deduced"
type: objects merge key by key, lists are atomic.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "v1.32.0-local"
# Defaults of list-map key fields that clients may omit (structured-merge-diff reads them from the schema).
KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}


def _definitions_file() -> Path | None:
    spec = importlib.util.find_spec("kubernetes_validate")  # its data only: no need to import it
    if spec is None or spec.origin is None:  # pragma: no cover - a declared dependency
        return None
    path = Path(spec.origin).parent / "kubernetes-json-schema" / SCHEMA_VERSION / "_definitions.json"
    return path if path.exists() else None


@functools.cache
def _defs() -> dict[str, Any]:
    path = _definitions_file()
    if path is None:
        return {}
    doc: dict[str, Any] = json.loads(path.read_text())
    defs: dict[str, Any] = doc.get("$defs") or doc.get("definitions") or {}
    return defs


@functools.cache
def _gvk_index() -> dict[tuple[str, str, str], str]:
    out: dict[tuple[str, str, str], str] = {}
    for name, d in _defs().items():
        for gvk in d.get("x-kubernetes-group-version-kind") or []:
            out[(gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))] = name
    return out


def _resolve(prop: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    node = prop
    while "$ref" in node and seen < 16:
        target = _defs().get(str(node["$ref"]).rsplit("/", 1)[-1])
        if target is None:
            return {}
        node, seen = target, seen + 1
    return node


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
        self.node = _resolve(prop)

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
    name = _gvk_index().get((group, version, kind))
    return Type({"$ref": f"#/$defs/{name}"}) if name else None


def child(t: Type | None, name: str) -> Type | None:
    return t.field(name) if t is not None else None


def items(t: Type | None) -> Type | None:
    return t.items() if t is not None else None
