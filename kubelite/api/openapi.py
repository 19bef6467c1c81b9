"""OpenAPI v3 documents, just enough for kubectl: paths with their PATCH operations.

kubectl 1.32's default ``--validate=strict`` asks ``/openapi/v3`` whether the
server supports the ``fieldValidation`` query parameter for a kind, by finding
that kind's PATCH operation (``x-kubernetes-group-version-kind``) in the
group-version's document. Advertising it makes kubectl leave validation to the
server instead of downloading ``/openapi/v2``. The PATCH request bodies leave out
``application/strategic-merge-patch+json`` on purpose: kubectl then computes
strategic patches for built-in kinds from its compiled-in types rather than
from schemas this document does not carry yet (component schemas, needed by
``kubectl explain``, are a TODO).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kubelite.api.discovery import KUBE_VERSION
from kubelite.api.registry import Registry
from kubelite.api.registry.base import Strategy

Obj = dict[str, Any]
PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")
QUERY = {"fieldValidation", "dryRun", "fieldManager", "force", "pretty"}


def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _param(name: str) -> Obj:
    return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}


def _ref(s: Strategy) -> Obj:
    return {"$ref": f"#/components/schemas/{s.kind}"}


def _paths_for(s: Strategy) -> Obj:
    base = "/" + gv_path(s.group, s.version)
    coll = f"{base}/namespaces/{{namespace}}/{s.plural}" if s.namespaced else f"{base}/{s.plural}"
    gvk = {"group": s.group, "version": s.version, "kind": s.kind}
    body = {"content": {"application/json": {"schema": _ref(s)}}}
    ok = {"200": {"description": "OK", "content": {"application/json": {"schema": _ref(s)}}}}

    def op(action: str, extra: Obj | None = None) -> Obj:
        o: Obj = {"operationId": f"{action}{s.kind}", "x-kubernetes-action": action,
                  "x-kubernetes-group-version-kind": gvk, "responses": ok,
                  "parameters": [_param(p) for p in sorted(QUERY)]}
        o.update(extra or {})
        return o

    patch_body = {"content": {t: {"schema": {"type": "object"}} for t in PATCH_TYPES}, "required": True}
    return {
        coll: {"get": op("list"), "post": op("post", {"requestBody": body})},
        f"{coll}/{{name}}": {"get": op("get"), "put": op("put", {"requestBody": body}), "delete": op("delete"),
                             "patch": op("patch", {"requestBody": patch_body})},
    }


def gv_document(registry: Registry, group: str, version: str) -> Obj | None:
    kinds = registry.in_group_version(group, version)
    if not kinds:
        return None
    paths: Obj = {}
    schemas: Obj = {}
    for s in kinds:
        paths.update(_paths_for(s))
        schemas[s.kind] = {"type": "object", "x-kubernetes-group-version-kind": [
            {"group": s.group, "version": s.version, "kind": s.kind}]}
    major, minor, patch = KUBE_VERSION
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": f"v{major}.{minor}.{patch}"},
            "paths": paths, "components": {"schemas": schemas}}


def root_document(registry: Registry) -> Obj:
    paths = {}
    for g, v in registry.group_versions():
        doc = gv_document(registry, g, v)
        digest = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:64].upper()
        paths[gv_path(g, v)] = {"serverRelativeURL": f"/openapi/v3/{gv_path(g, v)}?hash={digest}"}
    return {"paths": paths}
