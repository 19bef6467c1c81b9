"""Request attributes: what a URL and method mean to an authorizer.

Kubernetes authorizes on attributes, not URLs: a verb (get, list, watch,
create, update, patch, delete, deletecollection), an API group, a resource and
subresource, a namespace and a name — or, for everything outside ``/api`` and
``/apis/<group>/<version>``, a non-resource path and the lower-cased method.
This module derives them the way kube-apiserver does, so the authorizer and its
``Forbidden`` messages line up with what kubectl users already know:

- ``GET`` on a collection is ``list``, on an object ``get``; ``?watch=true`` or
  the legacy ``/watch/`` path segment makes either a ``watch``;
- ``DELETE`` on a collection is ``deletecollection``;
- ``/api/v1/namespaces/NS`` is the Namespace ``NS`` *in* namespace ``NS``
  (``status`` and ``finalize`` are its subresources);
- a list filtered by ``fieldSelector=metadata.name=X`` carries the name ``X``.

Pure and synchronous: it takes strings and returns a frozen dataclass, so the
server can compute it once and both the authorizer and handlers can read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
SPECIAL_VERBS = frozenset({"watch", "proxy"})
METHOD_VERBS = {
    "GET": "get",
    "HEAD": "get",
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


@dataclass(frozen=True)
class RequestInfo:
    """The attributes of one request; ``resource`` is empty for a non-resource request."""

    path: str
    verb: str
    is_resource_request: bool = False
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""

    @property
    def resource_path(self) -> str:
        """``resource`` or ``resource/subresource``, as Kubernetes names it in messages and rules."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def _name_from_field_selector(selector: str | None) -> str:
    """``X`` when the selector pins ``metadata.name=X`` (or ``==X``), else empty."""
    for term in (selector or "").split(","):
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if op and not key.endswith("!") and key.strip() == "metadata.name":
            return value.strip()
    return ""


def request_info(method: str, path: str, query: Mapping[str, str] | None = None) -> RequestInfo:
    """The attributes of ``method path?query``."""
    query = query or {}
    method = method.upper()
    parts = [p for p in path.strip("/").split("/") if p] if path.strip("/") else []
    non_resource = RequestInfo(path=path, verb=method.lower())
    if not parts or parts[0] not in ("api", "apis"):
        return non_resource
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix == "apis":
        if not parts:
            return non_resource
        group, parts = parts[0], parts[1:]
    if not parts:
        return non_resource
    version, parts = parts[0], parts[1:]
    if not parts:
        return non_resource  # /api/v1, /apis/apps/v1: discovery documents

    if parts[0] in SPECIAL_VERBS:
        if len(parts) < 2:
            return non_resource
        verb, parts = parts[0], parts[1:]
    else:
        verb = METHOD_VERBS.get(method, method.lower())

    namespace = ""
    if parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        if len(parts) > 2 and parts[2] not in NAMESPACE_SUBRESOURCES:
            parts = parts[2:]
    resource = parts[0]
    name = parts[1] if len(parts) > 1 else ""
    subresource = parts[2] if len(parts) > 2 else ""

    if not name and verb == "get":
        verb = "list"
    if not name and verb == "delete":
        verb = "deletecollection"
    if verb in ("list", "get") and _truthy(query.get("watch")):
        verb = "watch"
    if verb in ("list", "watch") and not name:
        name = _name_from_field_selector(query.get("fieldSelector"))
    return RequestInfo(
        path=path,
        verb=verb,
        is_resource_request=True,
        api_prefix=prefix,
        api_group=group,
        api_version=version,
        namespace=namespace,
        resource=resource,
        subresource=subresource,
        name=name,
    )
