"""OpenAPI v3 as kube-apiserver serves it: one document per group-version, addressed by content hash.

``/openapi/v3`` lists every group-version with a ``serverRelativeURL`` that
carries ``?hash=<SHA-512 of the document>``; the document itself answers with
that hash as its ``ETag`` and, when asked with the current hash, as immutable
(a stale hash is redirected to the current one, 301, like kube-openapi's
handler). Documents are built once per registry and kept as bytes.

Each document has the real component schemas of its kinds, converted from the
Kubernetes 1.32 definitions of ``kubernetes-validate`` by
:mod:`kubelite.api.schemas`, with every type they reference (``ObjectMeta``,
``PodSpec``...). Three kubectl paths read them:

* ``kubectl explain`` finds the kind's GVK on an operation of the resource's
  path, then the schema carrying the same ``x-kubernetes-group-version-kind``;
* ``--validate=strict`` (the default) looks for the ``fieldValidation`` query
  parameter on the kind's PATCH operation and then leaves validation to us;
* client-side ``kubectl apply`` sees ``application/strategic-merge-patch+json``
  among the PATCH media types and builds its three-way patch from these
  schemas' ``x-kubernetes-patch-merge-key``/``patch-strategy`` extensions.

A kind Kubernetes has no type for (none today) gets an open object schema.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from kubelite.api import schemas
from kubelite.api.discovery import KUBE_VERSION
from kubelite.api.errors import NotAcceptable
from kubelite.api.registry import Registry
from kubelite.api.registry.base import Strategy
from kubelite.errors import NotFound

Obj = dict[str, Any]
PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json")
QUERY = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")
PATCH_SCHEMA = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
DESCRIPTIONS = {
    "dryRun": "When present, indicates that modifications should not be persisted. An invalid or unrecognized "
              "dryRun directive will result in an error response and no further processing of the request. "
              "Valid values are: - All: all dry run stages will be processed",
    "fieldManager": "fieldManager is a name associated with the actor or entity that is making these changes.",
    "fieldValidation": "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/"
                       "PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will "
                       "ignore any unknown fields that are silently dropped from the object, and will ignore all "
                       "but the last duplicate field that the decoder encounters. - Warn: This will send a warning "
                       "via the standard warning response header for each unknown field that is dropped from the "
                       "object, and for each duplicate field that is encountered. The request will still succeed "
                       "if there are no other errors, and will only persist the last of any duplicate fields. "
                       "This is the default. - Strict: This will fail the request with a BadRequest error if any "
                       "unknown fields would be dropped from the object, or if any duplicate fields are present. "
                       "The error returned from the server will contain all unknown and duplicate fields "
                       "encountered.",
    "force": "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned "
             "by other people.",
    "pretty": "If 'true', then the output is pretty printed.",
}


def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _param(name: str) -> Obj:
    return {"name": name, "in": "query", "description": DESCRIPTIONS[name],
            "schema": {"type": "string", "uniqueItems": True}}


def schema_name(s: Strategy) -> str:
    return schemas.name_for(s.group, s.version, s.kind) or s.kind


def _ref(name: str) -> Obj:
    return {"$ref": f"#/components/schemas/{name}"}


def _paths_for(s: Strategy) -> Obj:
    base = "/" + gv_path(s.group, s.version)
    coll = f"{base}/namespaces/{{namespace}}/{s.plural}" if s.namespaced else f"{base}/{s.plural}"
    gvk = {"group": s.group, "version": s.version, "kind": s.kind}
    name = schema_name(s)
    body = {"content": {"application/json": {"schema": _ref(name)}, "application/yaml": {"schema": _ref(name)}},
            "required": True}
    ok = {"200": {"description": "OK", "content": {"application/json": {"schema": _ref(name)}}}}
    created = {"201": {"description": "Created", "content": {"application/json": {"schema": _ref(name)}}}}
    patch_ref = _ref(PATCH_SCHEMA) if schemas.name_for(s.group, s.version, s.kind) else {"type": "object"}

    def op(action: str, verb: str, responses: Obj, extra: Obj | None = None, query: tuple[str, ...] = ()) -> Obj:
        o: Obj = {"tags": [s.group or "core"], "description": f"{action} {s.kind}",
                  "operationId": f"{verb}{s.kind}", "responses": responses,
                  "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk}
        if query:
            o["parameters"] = [_param(p) for p in query]
        o.update(extra or {})
        return o

    write = tuple(q for q in QUERY if q != "force")
    patch_body = {"content": {t: {"schema": patch_ref} for t in PATCH_TYPES}, "required": True}
    item: Obj = {
        "get": op("get", "read", ok),
        "put": op("put", "replace", {**ok, **created}, {"requestBody": body}, write),
        "delete": op("delete", "delete", ok, None, ("dryRun", "pretty")),
        "patch": op("patch", "patch", {**ok, **created}, {"requestBody": patch_body}, QUERY),
    }
    paths = {
        coll: {"get": op("list", "list", ok), "post": op("post", "create", {**ok, **created},
                                                          {"requestBody": body}, write)},
        f"{coll}/{{name}}": item,
    }
    for sub in s.subresources:
        if sub in ("status", "scale"):
            paths[f"{coll}/{{name}}/{sub}"] = {
                "get": op("get", f"read{sub.title()}", ok),
                "put": op("put", f"replace{sub.title()}", ok, {"requestBody": body}, write),
                "patch": op("patch", f"patch{sub.title()}", ok, {"requestBody": patch_body}, QUERY),
            }
    if "scale" in s.subresources:
        scale = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
        for o in paths[f"{coll}/{{name}}/scale"].values():
            o["x-kubernetes-group-version-kind"] = scale
            o["responses"] = {"200": {"description": "OK", "content": {"application/json": {
                "schema": _ref("io.k8s.api.autoscaling.v1.Scale")}}}}
    return paths


def build_gv_document(registry: Registry, group: str, version: str) -> Obj | None:
    kinds = registry.in_group_version(group, version)
    if not kinds:
        return None
    paths: Obj = {}
    roots: list[str] = []
    for s in kinds:
        paths.update(_paths_for(s))
        name = schemas.name_for(s.group, s.version, s.kind)
        if name:
            roots.append(name)
            if list_name := schemas.name_for(s.group, s.version, s.kind + "List"):
                roots.append(list_name)
            if "scale" in s.subresources:
                roots.append("io.k8s.api.autoscaling.v1.Scale")
        roots += s.openapi_refs
    roots += [PATCH_SCHEMA, "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
              "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"]
    components = schemas.openapi_components(roots)
    for s in kinds:
        if not schemas.name_for(s.group, s.version, s.kind):
            own = s.openapi_schema()  # a kind of ours the bundled schemas lack
            components[s.kind] = {**(own or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
                                  "x-kubernetes-group-version-kind": [
                                      {"group": s.group, "version": s.version, "kind": s.kind}]}
    major, minor, patch = KUBE_VERSION
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": f"v{major}.{minor}.{patch}"},
            "paths": paths, "components": {"schemas": components}}


def gv_document(registry: Registry, group: str, version: str) -> Obj | None:
    """The document of one group-version as a JSON object (a fresh copy)."""
    served = _served(registry).get(gv_path(group, version))
    if served is None:
        return None
    doc: Obj = json.loads(served.body)
    return doc


@dataclass(frozen=True)
class Served:
    body: bytes
    etag: str  # kube-openapi's: upper-case hex SHA-512 of the body

    def url(self, path: str) -> str:
        return f"/openapi/v3/{path}?hash={self.etag}"


@functools.cache
def _served(registry: Registry) -> dict[str, Served]:
    out: dict[str, Served] = {}
    for g, v in registry.group_versions():
        doc = build_gv_document(registry, g, v)
        if doc is not None:
            body = json.dumps(doc, separators=(",", ":")).encode()
            out[gv_path(g, v)] = Served(body, hashlib.sha512(body).hexdigest().upper())
    return out


def root_document(registry: Registry) -> Obj:
    return {"paths": {path: {"serverRelativeURL": s.url(path)} for path, s in _served(registry).items()}}


def _wants_json(accept: str) -> bool:
    if not accept.strip():
        return True
    for part in accept.split(","):
        mt = part.split(";", 1)[0].strip().lower()
        if mt in ("*/*", "application/*", "application/json"):
            return True
    return False


async def serve_root(registry: Registry, req: web.Request) -> web.Response:
    await asyncio.to_thread(_served, registry)  # built once (~0.5 s): off the event loop
    body = json.dumps(root_document(registry), separators=(",", ":")).encode()
    return web.Response(body=body, content_type="application/json")


async def serve_gv(registry: Registry, path: str, req: web.Request) -> web.Response:
    """One group-version document with kube-apiserver's caching protocol (ETag, ``hash``, 301, 304)."""
    served = (await asyncio.to_thread(_served, registry)).get(path.strip("/"))
    if served is None:
        raise NotFound("the server could not find the requested resource")
    if not _wants_json(req.headers.get("Accept", "")):
        raise NotAcceptable("only application/json is supported for OpenAPI v3 documents")
    headers = {"ETag": f'"{served.etag}"', "Vary": "Accept"}
    wanted = req.query.get("hash", "")
    if wanted:
        if wanted != served.etag:
            raise web.HTTPMovedPermanently(served.url(path.strip("/")), headers=headers)
        headers["Cache-Control"] = "public, immutable"
        headers["Expires"] = format_datetime(datetime.now(UTC) + timedelta(days=365), usegmt=True)
    inm = req.headers.get("If-None-Match", "")
    if inm and served.etag in {t.strip().strip('"') for t in inm.split(",")}:
        return web.Response(status=304, headers=headers)
    return web.Response(body=served.body, content_type="application/json", headers=headers)
