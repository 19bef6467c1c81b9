"""Revisions of a DaemonSet's or StatefulSet's pod template, stored as apps/v1 ControllerRevisions.

As in Kubernetes, every template a DaemonSet or StatefulSet has run is kept
in a ControllerRevision it controls, and every pod carries the revision it was
made from (``controller-revision-hash``). That is what makes three things work
across controller restarts: ``kubectl rollout history`` and ``rollout undo``
(kubectl reads the revisions and patches the template back from one), and a
StatefulSet recreating a pod below its ``partition`` from the *older* template.

- A revision's hash is that of the pod template (FNV-32a over its canonical
  JSON, encoded with apimachinery's ``SafeEncodeString`` alphabet so it reads
  like Kubernetes' hashes), plus the set's ``collisionCount`` as Kubernetes mixes
  it in; the same template always gives the same hash. The revision object is
  ``<owner>-<hash>``, labelled with the template's labels (kubectl finds an
  owner's revisions with the owner's selector) and ``controller.kubernetes.io/hash``.
  A StatefulSet's pods carry the revision name, a DaemonSet's the bare hash.
- ``data`` is exactly the strategic-merge patch kubectl applies to roll back:
  ``{"spec": {"template": {..., "$patch": "replace"}}}``.
- ``revision`` numbers grow: a new template gets the highest number plus one,
  and a template that comes back (``rollout undo``) has its old revision
  renumbered to the top instead of a duplicate being made, as Kubernetes does.
- History is truncated to ``revisionHistoryLimit`` (default 10) revisions
  besides the live ones (the current and update revisions and any still used by
  a pod), oldest first.

Revisions are read from an informer; one the cache has not shown yet is found
by its fixed name (a create answers AlreadyExists), so a stale cache cannot make
duplicates. A name taken by a revision with other data or another owner (a hash
collision) is never reused: as in Kubernetes the owner's ``status.collisionCount``
is raised, which changes every hash it computes, and the sync is retried.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from kubelite.api.client import APIClient, resource_path
from kubelite.api.informer import Informer
from kubelite.controllers.informers import CONTROLLER_INDEX
from kubelite.controllers.podcontrol import controller_ref
from kubelite.errors import AlreadyExists, Conflict, NotFound

Obj = dict[str, Any]

REVISION_LABEL = "controller-revision-hash"
HASH_LABEL = "controller.kubernetes.io/hash"
# apimachinery's util/rand alphanums: no vowels (no words) and no look-alike characters.
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """apimachinery's ``rand.SafeEncodeString``: each byte mapped into an alphabet that spells no words."""
    return "".join(_ALPHANUMS[b % len(_ALPHANUMS)] for b in s.encode())


def template_hash(template: Obj, collision_count: int = 0) -> str:
    """The revision hash of a pod template: stable for equal templates whatever their key order."""
    raw = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    h = _fnv32a(raw)
    if collision_count:
        h = _fnv32a(raw + collision_count.to_bytes(4, "little"))
    return safe_encode(str(h))


def revision_of(pod: Obj) -> str:
    return str(((pod.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL, ""))


def revision_name(owner_name: str, hash_: str) -> str:
    """kube's ``ControllerRevisionName``: the owner's name (cut to 223 characters), a dash, the hash."""
    return f"{owner_name[:223]}-{hash_}"


def revision_data(template: Obj) -> Obj:
    """The patch that puts ``template`` back (kubectl's rollback applies it as a strategic merge patch)."""
    return {"spec": {"template": {**copy.deepcopy(template), "$patch": "replace"}}}


def template_of(revision: Obj) -> Obj | None:
    tmpl = (((revision.get("data") or {}).get("spec") or {}).get("template"))
    if not isinstance(tmpl, dict):
        return None
    return {k: copy.deepcopy(v) for k, v in tmpl.items() if k != "$patch"}


class HashCollision(Conflict):
    """The revision name of the owner's template is taken by another template or owner."""


async def bump_collision_count(client: APIClient, owner: Obj, plural: str) -> None:
    """Raise ``status.collisionCount`` (at the owner's resourceVersion: a stale owner is a Conflict, retried)."""
    md = owner["metadata"]
    count = int((owner.get("status") or {}).get("collisionCount") or 0) + 1
    await client.patch(resource_path("apps/v1", plural, md["namespace"], md["name"], "status"),
                       {"metadata": {"resourceVersion": md["resourceVersion"]}, "status": {"collisionCount": count}})


class RevisionHistory:
    """The ControllerRevisions of DaemonSets or StatefulSets (``plural``), read from a shared informer."""

    def __init__(self, client: APIClient, revisions: Informer) -> None:
        self.client = client
        self.revisions = revisions

    def owned(self, owner: Obj) -> list[Obj]:
        """The owner's revisions, oldest (lowest ``revision``) first."""
        revs = self.revisions.by_index(CONTROLLER_INDEX, str(owner["metadata"].get("uid")))
        return sorted(revs, key=lambda r: (int(r.get("revision") or 0), r["metadata"].get("name", "")))

    def template(self, owner: Obj, name: str) -> Obj | None:
        """The template of the owner's revision ``name``, None if it has none by that name."""
        for rev in self.owned(owner):
            if rev["metadata"].get("name") == name:
                return template_of(rev)
        return None

    async def record(self, owner: Obj, template: Obj, hash_: str) -> Obj:
        """Make sure the owner's current template is its newest revision; returns that revision."""
        md = owner["metadata"]
        revs = self.owned(owner)
        top = max((int(r.get("revision") or 0) for r in revs), default=0)
        name = revision_name(md["name"], hash_)
        data = revision_data(template)
        found = next((r for r in revs if r["metadata"].get("name") == name), None)
        if found is None:
            labels = {**(((template.get("metadata") or {}).get("labels")) or {}), HASH_LABEL: hash_}
            meta: Obj = {"name": name, "namespace": md["namespace"], "labels": labels,
                         "ownerReferences": [controller_ref(owner)]}
            if md.get("annotations"):
                meta["annotations"] = dict(md["annotations"])
            body = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": meta, "data": data,
                    "revision": top + 1}
            try:
                return await self.client.create(resource_path("apps/v1", "controllerrevisions", md["namespace"]),
                                                body)
            except AlreadyExists:  # made by a sync the cache has not shown yet, or a collision
                found = await self.client.get(resource_path("apps/v1", "controllerrevisions", md["namespace"], name))
        owners = [r.get("uid") for r in found["metadata"].get("ownerReferences") or [] if r.get("controller")]
        if found.get("data") != data or owners != [md.get("uid")]:
            raise HashCollision(f"ControllerRevision {md['namespace']}/{name} exists with another template or owner")
        if int(found.get("revision") or 0) < top:  # an old template is back: it becomes the newest revision
            found = await self.client.patch(
                resource_path("apps/v1", "controllerrevisions", md["namespace"], name),
                {"metadata": {"resourceVersion": found["metadata"]["resourceVersion"]}, "revision": top + 1})
        return found

    async def truncate(self, owner: Obj, live: set[str], limit: int) -> None:
        """Delete the oldest revisions not in ``live`` (names) beyond ``limit`` of them."""
        old = [r for r in self.owned(owner) if r["metadata"]["name"] not in live]
        for rev in old[:max(0, len(old) - max(limit, 0))]:
            try:
                await self.client.delete(resource_path("apps/v1", "controllerrevisions", rev["metadata"]["namespace"],
                                                       rev["metadata"]["name"]),
                                         {"preconditions": {"uid": rev["metadata"]["uid"]}})
            except NotFound:
                pass
