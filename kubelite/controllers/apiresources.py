"""The resources the API server serves, read from discovery: what the garbage collector and namespace controller walk.

Both controllers must reach every kind, including kinds added to the server
after they were written, so neither keeps its own list: they ask ``/api/v1`` and
each group's preferred version under ``/apis`` (the legacy discovery documents,
one request each, which is fine once at start-up). Only resources that can be
listed, watched and deleted count, subresources (``pods/status``) never, and
``events`` are left out as kube's garbage collector leaves them out: they are many,
short-lived and nobody owns them.

:class:`ResourceMap` answers the two questions an ownerReference raises: which
resource (plural) serves ``apiVersion``+``kind``, and is it namespaced.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubelite.api.client import APIClient, resource_path

IGNORED = {("v1", "events"), ("events.k8s.io/v1", "events")}


@dataclass(frozen=True)
class APIResource:
    api_version: str  # "v1" or "group/version"
    plural: str
    kind: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        return resource_path(self.api_version, self.plural, namespace if self.namespaced else None, name,
                             subresource)


async def discover(client: APIClient, verbs: frozenset[str] = frozenset({"list", "watch", "delete"}),
                   ignored: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(IGNORED)) -> list[APIResource]:
    """Every top-level resource whose verbs include ``verbs``, core first, each group at its preferred version,
    but ``ignored`` ((group/version, plural) pairs; the events by default)."""
    versions = ["v1"]
    groups = await client.get("/apis")
    for g in groups.get("groups") or []:
        pref = (g.get("preferredVersion") or {}).get("groupVersion")
        if pref:
            versions.append(pref)
    out: list[APIResource] = []
    for gv in versions:
        doc = await client.get("/api/v1" if gv == "v1" else f"/apis/{gv}")
        for r in doc.get("resources") or []:
            name = r.get("name", "")
            if "/" in name or (gv, name) in ignored or not verbs <= set(r.get("verbs") or []):
                continue
            out.append(APIResource(gv, name, r.get("kind", ""), bool(r.get("namespaced"))))
    return out


class ResourceMap:
    """Resources by ``(group, kind)``: an ownerReference names a kind at some version of its group."""

    def __init__(self, resources: list[APIResource]) -> None:
        self.resources = resources
        self._by_kind = {(r.group, r.kind): r for r in resources}

    def for_ref(self, api_version: str, kind: str) -> APIResource | None:
        return self._by_kind.get((api_version.rpartition("/")[0], kind))
