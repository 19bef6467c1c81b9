"""Authorization: a small fixed policy in place of RBAC, with Kubernetes' wording on refusal.

Design choices:

- The policy is a few static rule tables keyed by group membership, because
  the first users of the API are the admin and the node agents; RBAC objects
  (Role, ClusterRole and bindings) can come later behind the same
  :meth:`Authorizer.authorize` interface without touching callers.
- ``system:masters`` may do anything, as in Kubernetes (it bypasses RBAC there).
- Every authenticated user gets what Kubernetes' default ``system:discovery``,
  ``system:basic-user`` and ``system:public-info-viewer`` roles give: read the
  discovery and OpenAPI documents and ask who it is (``kubectl auth whoami``).
- ``system:nodes`` get the kubelet's verbs; the Node authorizer's narrowing
  (a node sees only its own Node object and the Secrets of pods bound to it)
  is in the TODO list below.
- A refusal is a 403 ``metav1.Status`` whose message reads exactly as
  kube-apiserver's, e.g. ``pods is forbidden: User "x" cannot list resource
  "pods" in API group "" in the namespace "default"``.

TODO (node authorizer): restrict nodes to their own Node and Lease (in
``kube-node-lease``), to pods bound to them (``spec.nodeName``), and to the
Secrets, ConfigMaps, PVCs and service-account tokens those pods reference;
allow ``system:bootstrappers`` only to create and read their own CSRs; RBAC.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from kubelite.api.errors import Resource, ResourceForbidden, quote, to_status
from kubelite.api.security.authn import AUTHENTICATED, PUBLIC_PATHS, USER, UserInfo
from kubelite.api.security.requestinfo import RequestInfo, request_info
from kubelite.errors import Forbidden

REQUEST_INFO: web.RequestKey[RequestInfo] = web.RequestKey("request_info", RequestInfo)
MASTERS = "system:masters"
NODES = "system:nodes"
READ = ("get", "list", "watch")

# (api group, resource or resource/subresource, verbs)
Rule = tuple[str, str, tuple[str, ...]]

NODE_RULES: tuple[Rule, ...] = (
    ("", "nodes", (*READ, "create", "update", "patch")),
    ("", "nodes/status", ("get", "update", "patch")),
    ("", "pods", (*READ, "create", "delete")),  # create/delete: static (mirror) pods
    ("", "pods/status", ("get", "update", "patch")),
    ("", "pods/eviction", ("create",)),
    ("", "services", READ),
    ("", "endpoints", READ),
    ("", "configmaps", READ),
    ("", "secrets", READ),
    ("", "persistentvolumeclaims", READ),
    ("", "persistentvolumes", READ),
    ("", "serviceaccounts/token", ("create",)),
    ("", "events", ("create", "update", "patch")),
    ("events.k8s.io", "events", ("create", "update", "patch")),
    ("discovery.k8s.io", "endpointslices", READ),
    ("coordination.k8s.io", "leases", ("get", "create", "update", "patch", "delete")),
    ("authentication.k8s.io", "tokenreviews", ("create",)),
    ("authorization.k8s.io", "subjectaccessreviews", ("create",)),
    ("certificates.k8s.io", "certificatesigningrequests", ("create", *READ)),
)

AUTHENTICATED_RULES: tuple[Rule, ...] = (
    ("authentication.k8s.io", "selfsubjectreviews", ("create",)),
    ("authorization.k8s.io", "selfsubjectaccessreviews", ("create",)),
    ("authorization.k8s.io", "selfsubjectrulesreviews", ("create",)),
)

# non-resource paths (glob) every authenticated user may GET: system:discovery, system:public-info-viewer
DISCOVERY_PATHS = ("/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", *sorted(PUBLIC_PATHS))


def _allows(rules: Iterable[Rule], verb: str, api_group: str, resource: str) -> bool:
    return any(g == api_group and r == resource and (verb in v or "*" in v) for g, r, v in rules)


class Authorizer:
    """Decides whether a user may do something; stateless and cheap, called once per request."""

    def authorize(
        self,
        user: UserInfo,
        verb: str,
        api_group: str,
        resource: str,
        namespace: str,
        name: str,
        *,
        subresource: str = "",
        path: str = "",
    ) -> bool:
        """May ``user`` do ``verb`` on ``resource[/subresource]`` (or, with no resource, on ``path``)?"""
        groups = set(user.groups)
        if MASTERS in groups:
            return True
        if not resource:
            return self._non_resource(user, verb, path)
        full = f"{resource}/{subresource}" if subresource else resource
        if AUTHENTICATED in groups and _allows(AUTHENTICATED_RULES, verb, api_group, full):
            return True
        return NODES in groups and _allows(NODE_RULES, verb, api_group, full)

    def _non_resource(self, user: UserInfo, verb: str, path: str) -> bool:
        if verb not in ("get", "head"):
            return False
        if path in PUBLIC_PATHS:
            return True
        return AUTHENTICATED in user.groups and any(fnmatch.fnmatchcase(path, p) for p in DISCOVERY_PATHS)

    def authorize_request(self, user: UserInfo, info: RequestInfo) -> bool:
        return self.authorize(
            user,
            info.verb,
            info.api_group,
            info.resource,
            info.namespace,
            info.name,
            subresource=info.subresource,
            path=info.path,
        )


def forbidden_error(user: UserInfo, info: RequestInfo) -> Forbidden:
    """The refusal as a domain error, worded as kube-apiserver words it."""
    who = f"User {quote(user.name)} cannot {info.verb}"
    if not info.is_resource_request:
        return Forbidden(f"forbidden: {who} path {quote(info.path)}")
    where = f"in the namespace {quote(info.namespace)}" if info.namespace else "at the cluster scope"
    why = f"{who} resource {quote(info.resource_path)} in API group {quote(info.api_group)} {where}"
    return ResourceForbidden(Resource(info.api_group, info.resource), info.name, why)


def forbidden_message(user: UserInfo, info: RequestInfo) -> str:
    """kube-apiserver's message for a refused request."""
    return str(forbidden_error(user, info))


def forbidden_response(user: UserInfo, info: RequestInfo) -> web.Response:
    return to_status(forbidden_error(user, info)).response()


def authz_middleware(
    authorizer: Authorizer,
) -> Middleware:
    """aiohttp middleware, after :func:`~.authn.auth_middleware`: sets ``request[REQUEST_INFO]``, answers 403."""

    @web.middleware
    async def authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
        info = request_info(request.method, request.path, request.query)
        request[REQUEST_INFO] = info
        user = request.get(USER)
        if not isinstance(user, UserInfo) or not authorizer.authorize_request(user, info):
            anonymous = UserInfo("system:anonymous")
            return forbidden_response(user if isinstance(user, UserInfo) else anonymous, info)
        return await handler(request)

    return authorize
