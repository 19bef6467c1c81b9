"""Discovery documents, all derived from the registry: legacy and aggregated (``apidiscovery.k8s.io/v2``).

kubectl 1.32 first asks ``/api`` and ``/apis`` for the aggregated form
(``Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList``)
and falls back to one request per group-version when the answer's
Content-Type says it got the legacy form. Both are served, so either path
works and the aggregated one costs two requests instead of 2 + one per group.
"""

from __future__ import annotations

import platform
import sys
from typing import Any

from kubelite.api.registry import Registry
from kubelite.api.registry.base import Strategy

Obj = dict[str, Any]
AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
KUBE_VERSION = (1, 32, 0)
SUBRESOURCE_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"],
                     "binding": ["create"], "eviction": ["create"], "log": ["get"], "exec": ["create", "get"],
                     "attach": ["create", "get"], "portforward": ["create", "get"], "finalize": ["update"],
                     "proxy": ["create", "delete", "get", "patch", "update"]}


def wants_aggregated(accept: str) -> bool:
    for part in accept.split(","):
        params = dict(p.strip().partition("=")[::2] for p in part.split(";")[1:])
        if params.get("g") == "apidiscovery.k8s.io" and params.get("v") == "v2" \
                and params.get("as") == "APIGroupDiscoveryList":
            return True
        if part.split(";")[0].strip() in ("application/json", "*/*"):
            return False
    return False


def version_info() -> Obj:
    major, minor, patch = KUBE_VERSION
    return {"major": str(major), "minor": str(minor), "gitVersion": f"v{major}.{minor}.{patch}+kubelite",
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z", "goVersion": f"python{sys.version.split()[0]}",
            "compiler": "cpython", "platform": f"linux/{platform.machine()}"}


def _subresource_kind(s: Strategy, sub: str) -> tuple[str, str, str]:
    if sub == "scale":
        return "autoscaling", "v1", "Scale"
    if sub in ("binding",):
        return "", "v1", "Binding"
    if sub == "eviction":
        return "policy", "v1", "Eviction"
    if sub in ("log", "exec", "attach", "portforward", "proxy"):
        return "", "", ""
    return s.group, s.version, s.kind


def resource_list(registry: Registry, group: str, version: str) -> Obj:
    gv = f"{group}/{version}" if group else version
    resources: list[Obj] = []
    for s in registry.in_group_version(group, version):
        r: Obj = {"name": s.plural, "singularName": s.singular, "namespaced": s.namespaced, "kind": s.kind,
                  "verbs": list(s.verbs)}
        if s.short_names:
            r["shortNames"] = list(s.short_names)
        if s.categories:
            r["categories"] = list(s.categories)
        resources.append(r)
        for sub in s.subresources:
            g, v, k = _subresource_kind(s, sub)
            sr: Obj = {"name": f"{s.plural}/{sub}", "singularName": "", "namespaced": s.namespaced,
                       "kind": k or s.kind, "verbs": SUBRESOURCE_VERBS[sub]}
            if g != s.group or (v and v != s.version):
                sr["group"], sr["version"] = g, v
            resources.append(sr)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


def api_versions(server_address: str) -> Obj:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def api_group(registry: Registry, group: str) -> Obj | None:
    versions = [v for g, v in registry.group_versions() if g == group]
    if not versions:
        return None
    vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": vs, "preferredVersion": vs[0]}


def api_group_list(registry: Registry) -> Obj:
    groups = []
    for g in dict.fromkeys(g for g, _ in registry.group_versions() if g):
        grp = api_group(registry, g)
        assert grp is not None
        groups.append({k: v for k, v in grp.items() if k not in ("kind", "apiVersion")})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _aggregated_resource(s: Strategy) -> Obj:
    r: Obj = {"resource": s.plural, "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
              "scope": "Namespaced" if s.namespaced else "Cluster", "singularResource": s.singular,
              "verbs": list(s.verbs)}
    if s.short_names:
        r["shortNames"] = list(s.short_names)
    if s.categories:
        r["categories"] = list(s.categories)
    subs = []
    for sub in s.subresources:
        g, v, k = _subresource_kind(s, sub)
        sr: Obj = {"subresource": sub, "verbs": SUBRESOURCE_VERBS[sub]}
        if k:
            sr["responseKind"] = {"group": g, "version": v, "kind": k}
        subs.append(sr)
    if subs:
        r["subresources"] = subs
    return r


def aggregated(registry: Registry, legacy: bool) -> Obj:
    """The APIGroupDiscoveryList for ``/api`` (``legacy``: the core group only) or ``/apis``."""
    items = []
    for g in dict.fromkeys(g for g, _ in registry.group_versions() if (g == "") == legacy):
        versions = [{"version": v, "freshness": "Current",
                     "resources": [_aggregated_resource(s) for s in registry.in_group_version(g, v)]}
                    for gg, v in registry.group_versions() if gg == g]
        items.append({"metadata": {"name": g, "creationTimestamp": None}, "versions": versions})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}
