"""Pod subresources and review kinds: ``pods/binding``, ``pods/eviction``, the *Review kinds, and the
streaming ones (``pods/log``, ``exec``, ``attach``, ``portforward``).

Binding is the scheduler's one write: it sets ``spec.nodeName`` (which a Pod
update may never change) and the ``PodScheduled`` condition in one
compare-and-swap on the pod, bypassing the Pod update strategy exactly as
kube's ``BindingREST`` does; a pod already bound or being deleted is a 409.
Eviction (``policy/v1``) first spends one disruption of the pod's
PodDisruptionBudget (:mod:`kubelite.api.eviction`, which answers the 429 when
none is left), then deletes the pod with the Eviction's ``deleteOptions``
through the ordinary delete path, so graceful deletion and preconditions
apply. Both answer ``201`` with a Success Status, as Kubernetes does.

Review kinds (:mod:`kubelite.api.registry.reviews`) are answered from the
request's user (``request[USER]``, set by the authentication middleware)
and the server's :class:`Authorizer`; on a development server without
authentication the caller is treated as a cluster admin, which is what such
a server lets everyone be.

The streaming subresources are checked here as kube-apiserver checks them
(the container must be one of the pod's, the pod must be bound to a node and,
for exec and attach, not finished) and then handed to
:mod:`kubelite.api.nodeproxy`, which splices the request to the node's agent
at the kubelet's paths. The query goes along unchanged but for ``container``
(now in the path) and ``ports``, which the kubelet calls ``port``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from kubelite.api import nodeproxy
from kubelite.api.codec import decode_object
from kubelite.api.errors import (
    BadRequest,
    Cause,
    FieldsInvalid,
    MethodNotAllowed,
    Resource,
    ResourceConflict,
    ResourceNotFound,
)
from kubelite.api.eviction import guard as pdb_guard
from kubelite.api.eviction import mark_disruption_target
from kubelite.api.meta import now_rfc3339
from kubelite.api.registry import REGISTRY
from kubelite.api.registry.base import Obj, Strategy
from kubelite.api.registry.reviews import Review
from kubelite.api.security.authn import AUTHENTICATED, USER, UserInfo
from kubelite.api.security.authz import MASTERS, Authorizer
from kubelite.api.storage import Storage, decode, encode
from kubelite.errors import Conflict, NotFound, Unavailable

AUTHORIZER: web.AppKey[Authorizer] = web.AppKey("authorizer", Authorizer)
DEV_ADMIN = UserInfo("system:admin", "", (MASTERS, AUTHENTICATED))
BINDINGS = Resource("", "pods/binding", "Binding")
EVICTION_VERSIONS = ("policy/v1", "policy/v1beta1")


def success(code: int = 201) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}
    return web.Response(body=json.dumps(body).encode(), status=code, content_type="application/json")


async def _body(req: web.Request) -> Obj:
    obj = decode_object(req.headers.get("Content-Type", ""), await req.read())
    if not isinstance(obj, dict):
        raise BadRequest("the body must be a JSON object")
    return obj


def _dry_run(req: web.Request, body: Obj) -> bool:
    for v in req.query.getall("dryRun", []):
        if v != "All":
            raise BadRequest(f'dryRun: Unsupported value: "{v}": supported values: "All"')
    return bool(req.query.getall("dryRun", [])) or bool(body.get("dryRun"))


async def binding(req: web.Request, storage: Storage, s: Strategy, ns: str, name: str) -> web.Response:
    b = await _body(req)
    if b.get("kind") not in (None, "Binding"):
        raise BadRequest(f"{b.get('kind')} cannot be handled as a Binding")
    if (b.get("metadata") or {}).get("name", name) != name:
        raise BadRequest("name in URL does not match name in Binding object")
    target = b.get("target") if isinstance(b.get("target"), dict) else {}
    assert isinstance(target, dict)
    causes: list[Cause] = []
    if not target.get("name"):
        causes.append(Cause("FieldValueRequired", "target.name", "Required value"))
    if target.get("kind") not in (None, "", "Node"):
        causes.append(Cause("FieldValueNotSupported", "target.kind",
                            f'Unsupported value: "{target.get("kind")}": supported values: "Node", ""'))
    if causes:
        raise FieldsInvalid(Resource("", "bindings", "Binding"), name, causes)
    node = str(target["name"])
    annotations = (b.get("metadata") or {}).get("annotations") or {}
    dry = _dry_run(req, b)
    key = storage.key(s, ns, name)
    for _ in range(8):
        try:
            kv = await storage.store.get(key)
        except NotFound:
            raise ResourceNotFound(s.resource, name) from None
        pod = decode(kv)
        meta, spec = pod["metadata"], pod.setdefault("spec", {})
        if meta.get("deletionTimestamp"):
            raise ResourceConflict(BINDINGS, name, f"pod {name} is being deleted, cannot be assigned to a host")
        if spec.get("nodeName"):
            raise ResourceConflict(BINDINGS, name, f'pod {name} is already assigned to node "{spec["nodeName"]}"')
        uid = (b.get("metadata") or {}).get("uid")
        if uid and uid != meta.get("uid"):
            raise ResourceConflict(BINDINGS, name, f"Precondition failed: UID in precondition: {uid}, UID in "
                                   f"object meta: {meta.get('uid')}")
        spec["nodeName"] = node
        if annotations:
            meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
        status = pod.setdefault("status", {})
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                      "lastTransitionTime": now_rfc3339()})
        status["conditions"] = conds
        if dry:
            return success()
        try:
            await storage.store.update(key, encode(pod), expected_revision=kv.mod_revision)
            return success()
        except Conflict:
            continue
        except NotFound:
            raise ResourceNotFound(s.resource, name) from None
    raise ResourceConflict(BINDINGS, name, "too many concurrent updates, please try again")


async def eviction(req: web.Request, storage: Storage, s: Strategy, ns: str, name: str) -> web.Response:
    ev = await _body(req)
    if ev.get("apiVersion") not in (None, *EVICTION_VERSIONS) or ev.get("kind") not in (None, "Eviction"):
        raise BadRequest(f"{ev.get('kind')} in version {ev.get('apiVersion')} cannot be handled as an Eviction")
    if (ev.get("metadata") or {}).get("name", name) != name:
        raise BadRequest("name in URL does not match name in Eviction object")
    options = ev.get("deleteOptions") if isinstance(ev.get("deleteOptions"), dict) else {}
    assert isinstance(options, dict)
    dry = _dry_run(req, options)
    pod = await storage.get(s, ns, name)
    refusal = await pdb_guard(storage, ns, pod, dry)
    if refusal is not None:
        return refusal
    if not dry:
        await mark_disruption_target(storage, ns, pod)
    await storage.delete(s, ns, name, options, dry)
    return success()


def _user(req: web.Request) -> UserInfo:
    user = req.get(USER)
    return user if isinstance(user, UserInfo) else DEV_ADMIN


async def review(req: web.Request, s: Review, namespace: str) -> web.Response:
    if req.method != "POST":
        raise MethodNotAllowed()
    obj = await _body(req)
    if obj.get("kind") not in (None, s.kind):
        raise BadRequest(f"{obj.get('kind')} cannot be handled as a {s.kind}")
    authorizer = req.app.get(AUTHORIZER) or Authorizer()
    out: Any = s.review(obj, _user(req), authorizer, namespace)
    return web.Response(body=json.dumps(out).encode(), status=201, content_type="application/json")


async def post(req: web.Request, storage: Storage, s: Strategy, ns: str, name: str, sub: str) -> web.Response:
    """The handler for ``POST .../pods/NAME/{binding,eviction}``."""
    if req.method != "POST":
        raise MethodNotAllowed()
    # both are creates to kube's NamespaceLifecycle admission: refused in a Terminating namespace (kubectl
    # drain then deletes the pod instead of evicting it, on the NamespaceTerminating cause)
    await storage.ensure_namespace(ns, creating=s.resource, name=name)
    if sub == "binding":
        return await binding(req, storage, s, ns, name)
    return await eviction(req, storage, s, ns, name)


KUBELET_PATHS = {"log": "containerLogs", "exec": "exec", "attach": "attach", "portforward": "portForward"}


def _container(pod: Obj, name: str, sub: str, requested: str) -> str:
    spec = pod.get("spec") or {}
    names = [str(c.get("name")) for key in ("containers", "initContainers", "ephemeralContainers")
             for c in spec.get(key) or [] if isinstance(c, dict)]
    if not requested:
        regular = [str(c.get("name")) for c in spec.get("containers") or [] if isinstance(c, dict)]
        if len(regular) == 1:
            return regular[0]
        choices = " ".join(regular)
        raise BadRequest(f"a container name must be specified for pod {name}, choose one of: [{choices}]")
    if requested not in names:
        raise BadRequest(f"container {requested} is not valid for pod {name}")
    return requested


async def stream(req: web.Request, storage: Storage, s: Strategy, ns: str, name: str, sub: str
                 ) -> web.StreamResponse:
    """``pods/{log,exec,attach,portforward}``: validated here, served by the pod's node agent."""
    if s.kind != "Pod" or sub not in KUBELET_PATHS or not name:
        raise Unavailable(f"the {sub} subresource is not served by this server")
    if req.method not in (("GET",) if sub == "log" else ("GET", "POST")):
        raise MethodNotAllowed()
    pod = await storage.get(s, ns, name)
    query = [(k, v) for k, v in req.query.items() if k != "container"]
    path = f"/{KUBELET_PATHS[sub]}/{ns}/{name}"
    if sub == "portforward":
        query = [("port", v) if k == "ports" else (k, v) for k, v in query]
    else:
        path += "/" + _container(pod, name, sub, req.query.get("container", ""))
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise BadRequest(f"pod {name} does not have a host assigned")
    phase = (pod.get("status") or {}).get("phase")
    if sub in ("exec", "attach") and phase in ("Succeeded", "Failed"):
        verb = "exec into" if sub == "exec" else "attach to"
        raise BadRequest(f"cannot {verb} a container in a completed pod; current phase is {phase}")
    nodes = REGISTRY.lookup("", "v1", "nodes")
    assert nodes is not None
    node = await storage.get(nodes, "", str(node_name))
    host, port = nodeproxy.node_endpoint(node)
    qs = urlencode(query)
    return await nodeproxy.proxy(req, host, port, path + (f"?{qs}" if qs else ""))
