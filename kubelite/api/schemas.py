"""The Kubernetes 1.32 type schemas, from the ``kubernetes-validate`` package, loaded once and lazily.

``kubernetes-validate`` ships kube's own OpenAPI definitions converted to JSON
Schema 2020-12 (``_definitions.json``: every type by its full Go name, with
``x-kubernetes-group-version-kind`` on top-level kinds and the strategic-merge
extensions kept). This module is the one loader of that file (parsed once, on
first use, from the package's data without importing the package), and it
serves three readers:

* :mod:`kubelite.api.validation` walks it for unknown fields and hands it to
  ``jsonschema`` for type checks, as is;
* :mod:`kubelite.api.openapi` turns it back into OpenAPI v3 component schemas
  (:func:`to_openapi`): nullable type arrays become one type, ``$ref`` points
  into ``#/components/schemas`` and, next to a description, is wrapped in a
  one-element ``allOf`` exactly as kube-apiserver publishes it, which is what
  ``kubectl explain`` and kubectl's strategic-merge patch builder expect;
* :mod:`kubelite.api.schematypes` walks it by ``$ref`` for the list, map and
  patch annotations of strategic merge patch and server-side apply.

Kinds are found by group/version/kind, never by a name we would have to keep in
sync, so a kind added to the registry gets its schema for free.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

Obj = dict[str, Any]
KUBE_SCHEMAS = "v1.32.0-local"
REF_PREFIX = "#/$defs/"
OPENAPI_PREFIX = "#/components/schemas/"


@functools.cache
def document() -> Obj:
    """The whole ``_definitions.json`` (``$id``, ``$schema``, ``$defs``), parsed once."""
    spec = importlib.util.find_spec("kubernetes_validate")  # its data only: importing it costs ~0.2 s
    if spec is None or spec.origin is None:  # pragma: no cover - a declared dependency
        raise ModuleNotFoundError("kubernetes_validate is not installed")
    path = Path(spec.origin).parent / "kubernetes-json-schema" / KUBE_SCHEMAS / "_definitions.json"
    doc: Obj = json.loads(path.read_text())
    return doc


def definitions() -> dict[str, Obj]:
    defs: dict[str, Obj] = document()["$defs"]
    return defs


@functools.cache
def _by_gvk() -> dict[tuple[str, str, str], str]:
    out: dict[tuple[str, str, str], str] = {}
    for name, d in definitions().items():
        for gvk in d.get("x-kubernetes-group-version-kind") or []:
            out.setdefault((gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", "")), name)
    return out


def name_for(group: str, version: str, kind: str) -> str | None:
    """The definition name (``io.k8s.api.apps.v1.Deployment``) of a kind, None if kube has no such type."""
    return _by_gvk().get((group, version, kind))


def ref_name(ref: str) -> str:
    return ref[len(REF_PREFIX):] if ref.startswith(REF_PREFIX) else ref.rsplit("/", 1)[-1]


def resolve(schema: Obj) -> Obj:
    """Follow ``$ref`` (possibly chained) to the schema it names; the schema itself when it has none."""
    seen = 0
    while "$ref" in schema and seen < 16:
        schema = definitions().get(ref_name(schema["$ref"]), {})
        seen += 1
    return schema


def closure(roots: list[str]) -> list[str]:
    """The named definitions reachable from ``roots``, roots first, each once."""
    defs = definitions()
    out: dict[str, None] = {}
    stack = list(reversed(roots))
    while stack:
        name = stack.pop()
        if name in out or name not in defs:
            continue
        out[name] = None
        found: list[str] = []
        _refs(defs[name], found)
        stack.extend(reversed(found))
    return list(out)


def _refs(node: Any, found: list[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                found.append(ref_name(v))
            else:
                _refs(v, found)
    elif isinstance(node, list):
        for v in node:
            _refs(v, found)


_NESTED = ("properties", "patternProperties")
_ONE = ("items", "additionalProperties", "not")
_MANY = ("oneOf", "anyOf", "allOf")


def to_openapi(schema: Any) -> Any:
    """One JSON Schema 2020-12 node of kubernetes-validate as the OpenAPI v3 node kube-apiserver serves."""
    if not isinstance(schema, dict):
        return schema
    out: Obj = {}
    for k, v in schema.items():
        if k == "type" and isinstance(v, list):
            types = [t for t in v if t != "null"]
            if len(types) == 1:
                out[k] = types[0]
            elif types:
                out[k] = types
        elif k == "enum" and isinstance(v, list):
            out[k] = [e for e in v if e is not None]
        elif k in _NESTED and isinstance(v, dict):
            out[k] = {name: to_openapi(sub) for name, sub in v.items()}
        elif k in _ONE:
            out[k] = to_openapi(v)
        elif k in _MANY and isinstance(v, list):
            out[k] = [to_openapi(sub) for sub in v]
        elif k == "$ref":
            out[k] = OPENAPI_PREFIX + ref_name(v)
        else:
            out[k] = v
    if "$ref" in out and len(out) > 1:  # kube's form: a ref with siblings is a one-element allOf
        out["allOf"] = [{"$ref": out.pop("$ref")}]
    return out


def openapi_components(roots: list[str]) -> Obj:
    """``components.schemas`` for a group-version document: the roots and everything they reference."""
    defs = definitions()
    out = {name: to_openapi(defs[name]) for name in closure(roots)}
    for schema in out.values():  # kubernetes-validate pins apiVersion/kind with an enum; kube does not
        if "x-kubernetes-group-version-kind" in schema:
            for field in ("apiVersion", "kind"):
                schema.get("properties", {}).get(field, {}).pop("enum", None)
    return out
