"""The REST verbs: one aiohttp handler per verb over the generic storage.

:func:`parse_path` turns ``/api/v1/namespaces/ns/pods/name/status`` into a
:class:`Target`; the verb follows from the HTTP method and whether a name is
present (Kubernetes' ``RequestInfo``). Handlers decode the body, call
:class:`~kubelite.api.storage.Storage`, and encode the result, as an object, a
List, a Table or a watch stream. They raise domain errors only; the error
middleware of :mod:`kubelite.api.server` renders them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kubelite.api import errors, jsonfast, managedfields, metrics, nodeproxy, subresources, validation
from kubelite.api.apply import server_side_apply
from kubelite.api.codec import Accept, decode_body, decode_object, media_type
from kubelite.api.errors import BadRequest, MethodNotAllowed, UnsupportedMediaType, to_status
from kubelite.api.patch import json_patch, merge_patch, strategic_merge
from kubelite.api.registry import REGISTRY, Registry
from kubelite.api.registry.base import Obj, Strategy
from kubelite.api.registry.metrics import MetricsView
from kubelite.api.registry.reviews import Review
from kubelite.api.storage import Selection, Storage, decode, item_json, parse_rv
from kubelite.api.tables import partial, row, table
from kubelite.api.watch import watch_events
from kubelite.errors import Gone, KubeliteError, NotFound

STORAGE: web.AppKey[Storage] = web.AppKey("storage", Storage)
STOPPING: web.AppKey[asyncio.Event] = web.AppKey("stopping", asyncio.Event)
STREAMING = ("log", "exec", "attach", "portforward", "proxy")


@dataclass(frozen=True)
class Target:
    s: Strategy
    namespace: str = ""
    name: str = ""
    sub: str = ""


def parse_path(registry: Registry, group: str, version: str, rest: list[str]) -> Target:
    if rest and rest[0] == "namespaces" and len(rest) >= 3:
        s = registry.lookup(group, version, rest[2])
        if s is not None and s.namespaced:
            if len(rest) > 5:
                raise NotFound("the server could not find the requested resource")
            return Target(s, rest[1], *(rest[3:5]))
    s = registry.lookup(group, version, rest[0]) if rest else None
    if s is None or len(rest) > 3:
        raise NotFound("the server could not find the requested resource")
    target = Target(s, "", *(rest[1:3]))
    if target.sub and target.sub not in s.subresources:
        raise NotFound("the server could not find the requested resource")
    return target


def respond(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=jsonfast.dumps(obj), status=status, content_type="application/json")


def _dry_run(req: web.Request) -> bool:
    values = req.query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise BadRequest(f'dryRun: Unsupported value: "{v}": supported values: "All"')
    return bool(values)


def _int(req: web.Request, name: str, default: int = 0) -> int:
    raw = req.query.get(name, "")
    if not raw:
        return default
    try:
        n = int(raw)
    except ValueError:
        raise BadRequest(f"invalid value for {name}: {raw!r}") from None
    if n < 0:
        raise BadRequest(f"{name}: Invalid value: {n}: must be greater than or equal to 0")
    return n


def _check_kind(s: Strategy, obj: Obj) -> None:
    """kube's decode of a body into the URL's kind: missing apiVersion/kind default to the URL's; another kind is
    a failed conversion (``transformDecodeError``), the same kind of another served version a version mismatch."""
    av, kind = str(obj.get("apiVersion") or s.api_version), str(obj.get("kind") or s.kind)
    if av == s.api_version and kind == s.kind:
        return
    group, _, version = av.rpartition("/")
    cannot = f'{kind} in version "{version}" cannot be handled as a {s.kind}: '
    if kind not in {k.kind for k in REGISTRY.in_group_version(group, version)}:
        raise BadRequest(cannot + f'no kind "{kind}" is registered for version "{av}" in scheme '
                         '"pkg/api/legacyscheme/scheme.go:30"')
    if kind != s.kind:
        internal = "core" if s.group in ("", "events.k8s.io") else s.group.split(".")[0]
        raise BadRequest(cannot + f"converting ({version}.{kind}) to ({internal}.{s.kind}): unknown conversion")
    raise BadRequest(f"the API version in the data ({av}) does not match the expected API version ({s.api_version})")


def _out(req: web.Request, s: Strategy, obj: Obj, status: int = 200) -> web.Response:
    accept = Accept.parse(req.headers.get("Accept", ""))
    if accept.table:
        return respond(table(s, [obj], req.query.get("includeObject", "Metadata"),
                             obj["metadata"].get("resourceVersion", "")), status)
    if accept.partial:
        return respond(partial(obj), status)
    return respond(obj, status)


async def handle(req: web.Request, registry: Registry, group: str, version: str,
                 rest: list[str]) -> web.StreamResponse:
    if not group and len(rest) > 2 and rest[0] == "nodes" and rest[2] == "proxy":  # nodes/NAME/proxy/PATH...
        return await nodeproxy.node_proxy(req, req.app[STORAGE], rest[1], "/".join(rest[3:]))
    t = parse_path(registry, group, version, rest)
    storage = t.s.storage_view(req.app[STORAGE])  # events.k8s.io/v1 Event converts (registry/events.py)
    m = req.method
    if t.sub in STREAMING:
        return await subresources.stream(req, storage, t.s, t.namespace, t.name, t.sub)
    if isinstance(t.s, Review):  # create-only, never stored: answered from the caller's identity
        return await subresources.review(req, t.s, t.namespace)
    if t.sub in ("binding", "eviction") and t.sub in t.s.subresources:
        return await subresources.post(req, storage, t.s, t.namespace, t.name, t.sub)
    if t.s.namespaced and not t.namespace and t.name:
        raise NotFound("the server could not find the requested resource")
    if isinstance(t.s, MetricsView):  # read-only, never stored: asked of the node agents
        if t.sub:
            raise NotFound("the server could not find the requested resource")
        return await metrics.serve(req, storage, t.s, t.namespace, t.name)
    if not t.name:
        if m == "GET":
            return await list_or_watch(req, storage, t)
        if m == "POST":
            if t.s.namespaced and not t.namespace:
                raise MethodNotAllowed()
            return await create(req, storage, t)
        if m == "DELETE":
            sel = Selection.parse(t.s, req.query.get("labelSelector", ""), req.query.get("fieldSelector", ""))
            items = await storage.delete_collection(t.s, t.namespace, sel, await _delete_options(req), _dry_run(req))
            return respond({"kind": f"{t.s.kind}List", "apiVersion": t.s.api_version, "metadata": {},
                            "items": items})
        raise MethodNotAllowed()
    if t.sub == "scale":
        return await scale(req, storage, t)
    if m == "GET":
        return _out(req, t.s, await storage.get(t.s, t.namespace, t.name))
    if m == "PUT":
        return await update(req, storage, t)
    if m == "PATCH":
        return await patch(req, storage, t)
    if m == "DELETE" and not t.sub:
        obj = await storage.delete(t.s, t.namespace, t.name, await _delete_options(req), _dry_run(req))
        return _out(req, t.s, obj)
    raise MethodNotAllowed()


async def _delete_options(req: web.Request) -> Obj:
    body = await req.read()
    opts = decode_object(req.headers.get("Content-Type", ""), body) if body.strip() else {}
    if "gracePeriodSeconds" in req.query:
        opts["gracePeriodSeconds"] = _int(req, "gracePeriodSeconds")
    if "propagationPolicy" in req.query:
        opts["propagationPolicy"] = req.query["propagationPolicy"]
    return opts


async def create(req: web.Request, storage: Storage, t: Target) -> web.Response:
    directive = validation.mode(req.query)
    obj, dups = validation.decode(req.headers.get("Content-Type", ""), await req.read())
    _check_kind(t.s, obj)
    if t.sub:
        raise MethodNotAllowed()
    warnings = validation.check(t.s, obj, directive, dups)
    track = managedfields.tracker(t.s, _manager(req))
    return validation.add_warnings(_out(req, t.s, await storage.create(t.s, t.namespace, obj, _dry_run(req), track),
                                        201), warnings)


def _manager(req: web.Request, applying: bool = False) -> str:
    return managedfields.manager_name(req.query.get("fieldManager", ""), req.headers.get("User-Agent", ""), applying)


async def update(req: web.Request, storage: Storage, t: Target) -> web.Response:
    directive = validation.mode(req.query)
    obj, dups = validation.decode(req.headers.get("Content-Type", ""), await req.read())
    _check_kind(t.s, obj)
    warnings: list[str] = []

    def replace(old: Obj) -> Obj:
        warnings.extend(validation.check(t.s, obj, directive, dups, old))
        return obj

    new = await storage.update(t.s, t.namespace, t.name, replace, t.sub, _dry_run(req),
                               managedfields.tracker(t.s, _manager(req), t.sub))
    return validation.add_warnings(_out(req, t.s, new), warnings)


def patcher(content_type: str, body: bytes) -> Any:
    mt = media_type(content_type)
    doc = decode_body(content_type, body)
    if mt == "application/json-patch+json":
        return lambda cur: json_patch(cur, doc)
    if not isinstance(doc, dict):
        raise BadRequest("the patch must be a JSON object")
    if mt == "application/merge-patch+json":
        return lambda cur: merge_patch(cur, doc)
    if mt in ("application/strategic-merge-patch+json", "application/apply-patch+yaml"):
        return lambda cur: strategic_merge(cur, doc)
    raise UnsupportedMediaType(f"the media type {mt!r} is not a supported patch type: use "
                               "application/json-patch+json, application/merge-patch+json, "
                               "application/strategic-merge-patch+json or application/apply-patch+yaml")


async def patch(req: web.Request, storage: Storage, t: Target) -> web.Response:
    ct = req.headers.get("Content-Type", "")
    body = await req.read()
    directive = validation.mode(req.query)
    unchecked = patcher(ct, body)
    dry = _dry_run(req)
    duplicated = validation.patch_duplicates(*validation.decode_any(ct, body)) if directive != "Ignore" else []
    warnings: list[str] = []

    def fn(cur: Obj) -> Obj:
        new: Obj = unchecked(cur)
        if isinstance(new, dict) and isinstance(new.get("metadata"), dict) and \
                new["metadata"].get("resourceVersion") == cur.get("metadata", {}).get("resourceVersion"):
            # A patch is unconditional unless it names another resourceVersion: the one copied from the
            # current object must not turn a lost compare-and-swap race into a 409 (update retries instead).
            # (A copy: the patched object may share its metadata with ``cur``.)
            new["metadata"] = {k: v for k, v in new["metadata"].items() if k != "resourceVersion"}
        if isinstance(new, dict):
            warnings[:] = validation.check(t.s, new, directive, old=cur, patch_problems=duplicated)
        return new

    force = req.query.get("force", "")
    if media_type(ct) == "application/apply-patch+yaml":  # server-side apply (kubelite.api.apply)
        applied = decode_object(ct, body)
        _check_kind(t.s, applied)
        manager = _manager(req, applying=True)
        warnings = validation.check(t.s, applied, directive, patch_problems=duplicated)
        obj, created = await server_side_apply(storage, t.s, t.namespace, t.name, t.sub, applied, manager,
                                               force in ("1", "true", "True"), dry)
        return validation.add_warnings(_out(req, t.s, obj, 201 if created else 200), warnings)
    if force:
        raise managedfields.patch_options_invalid(errors.forbidden("force", "may not be specified for non-apply patch"))
    new = await storage.update(t.s, t.namespace, t.name, fn, t.sub, dry, managedfields.tracker(t.s, _manager(req), t.sub))
    return validation.add_warnings(_out(req, t.s, new), warnings)


async def scale(req: web.Request, storage: Storage, t: Target) -> web.Response:
    def to_scale(obj: Obj) -> Obj:
        meta = obj["metadata"]
        sel = (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                  "creationTimestamp") if k in meta},
                "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
                "status": {"replicas": obj.get("status", {}).get("replicas", 0),
                           "selector": ",".join(f"{k}={v}" for k, v in sel.items())}}

    if req.method == "GET":
        return respond(to_scale(await storage.get(t.s, t.namespace, t.name)))
    if req.method not in ("PUT", "PATCH"):
        raise MethodNotAllowed()
    ct, body = req.headers.get("Content-Type", ""), await req.read()
    change = patcher(ct, body) if req.method == "PATCH" else (lambda _cur: decode_object(ct, body))

    def apply(obj: Obj) -> Obj:
        new_scale = change(to_scale(obj))
        replicas = (new_scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise BadRequest(f"spec.replicas: Invalid value: {replicas!r}: must be greater than or equal to 0")
        obj.setdefault("spec", {})["replicas"] = replicas
        obj["metadata"]["resourceVersion"] = (new_scale.get("metadata") or {}).get("resourceVersion", "")
        return obj

    return respond(to_scale(await storage.update(t.s, t.namespace, t.name, apply, "", _dry_run(req),
                                                 managedfields.tracker(t.s, _manager(req), "scale"))))


def wants_watch(query: Mapping[str, str]) -> bool:
    """Whether a GET of a collection asks for a watch stream rather than a list."""
    return query.get("watch", "") in ("1", "true", "True")


async def list_or_watch(req: web.Request, storage: Storage, t: Target) -> web.Response | web.StreamResponse:
    sel = Selection.parse(t.s, req.query.get("labelSelector", ""), req.query.get("fieldSelector", ""))
    if wants_watch(req.query):
        return await watch(req, storage, t, sel)
    cont = req.query.get("continue", "")
    try:
        page = await storage.list_raw(t.s, t.namespace, sel, _int(req, "limit"), cont)
    except Gone:
        if not cont:
            raise
        raise Gone("The provided continue parameter is too old to display a consistent list result. You can "
                   "start a new list without the continue parameter.") from None
    accept = Accept.parse(req.headers.get("Accept", ""))
    rv = str(page.revision)
    # Items are encoded one by one, each decoded object dropped at once (10,000 live objects make the
    # garbage collector cost more than the JSON), and joined after the list's head: its last field.
    if accept.table:
        include = req.query.get("includeObject", "Metadata")
        head = table(t.s, [], include, rv, page.continue_key)
        items = [jsonfast.dumps(row(t.s, decode(kv), include)) for kv in page.items]
    else:
        meta: Obj = {"resourceVersion": rv}
        if page.continue_key:
            meta["continue"] = page.continue_key
        if accept.partial:
            head = {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": []}
            items = [jsonfast.dumps(partial(decode(kv))) for kv in page.items]
        else:  # the stored bytes with the resourceVersion spliced in, when they allow it
            head = {"kind": f"{t.s.kind}List", "apiVersion": t.s.api_version, "metadata": meta, "items": []}
            items = [item_json(kv) for kv in page.items]
    body = jsonfast.dumps(head)
    return web.Response(body=b"".join((body[:-2], b",".join(items), b"]}")), content_type="application/json")


async def _stream(req: web.Request) -> web.StreamResponse:
    open_stream = getattr(req, "open_stream", None)  # a watch made in process (kubelite.api.inprocess)
    if open_stream is not None:
        out: web.StreamResponse = open_stream()
        return out
    resp = web.StreamResponse(headers={"Content-Type": "application/json", "Cache-Control": "no-cache"})
    resp.enable_chunked_encoding()
    await resp.prepare(req)
    return resp


async def watch(req: web.Request, storage: Storage, t: Target, sel: Selection) -> web.StreamResponse:
    timeout = _int(req, "timeoutSeconds", 1800) or 1800
    parse_rv(req.query.get("resourceVersion", ""))  # a bad one is a 400, before the stream starts
    accept = Accept.parse(req.headers.get("Accept", ""))
    include = req.query.get("includeObject", "Metadata")
    bookmarks = req.query.get("allowWatchBookmarks", "") in ("1", "true", "True")
    batches = watch_events(storage, t.s, t.namespace, sel, req.query.get("resourceVersion", ""), timeout,
                           bookmarks, req.app[STOPPING])
    resp = await _stream(req)
    headers = True
    try:
        async for batch in batches:
            lines = []
            for ev in batch:
                line = ev.line() if not (accept.table or accept.partial) else None
                if line is None:  # tables, metadata-only, bookmarks, errors: encoded for this watcher
                    obj = ev.object
                    if ev.type not in ("ERROR", "BOOKMARK"):
                        if accept.table:
                            obj = table(t.s, [obj], include, obj["metadata"].get("resourceVersion", ""),
                                        headers=headers)
                            headers = False
                        elif accept.partial:
                            obj = partial(obj)
                    line = jsonfast.dumps({"type": ev.type, "object": obj}) + b"\n"
                lines.append(line)
            await resp.write(b"".join(lines))  # one write (one TLS record run) per batch
    except ConnectionResetError:
        pass
    except KubeliteError as e:  # after the headers went out, an error can only be an ERROR event
        await resp.write(jsonfast.dumps({"type": "ERROR", "object": to_status(e).body()}) + b"\n")
    finally:
        await batches.aclose()
    return resp
