"""Adopting and releasing objects by labels and ownerReferences (kube's ``ControllerRefManager``).

An owner (a ReplicaSet for pods, a Deployment for ReplicaSets) claims what it
should control: an object it controls that its selector still matches is kept;
one it controls whose labels no longer match is released (its ownerReference
removed, so it lives on as an orphan); an orphan that matches is adopted (an
ownerReference with ``controller: true`` added). Objects controlled by someone
else are never touched, and an owner being deleted adopts nothing. Before the first
adoption the owner is read fresh from the API, not the cache: a cached owner may
already be gone or replaced by a namesake with another uid, and adopting for it
would hand the object to the garbage collector.

Both writes are strategic merge patches keyed by the object's uid (a patch that
names a uid fails rather than touch a namesake recreated meanwhile), and the
ownerReferences list merges by uid, so other owners' references survive.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.client import APIClient, resource_path
from kubelite.controllers.podcontrol import controller_of, controller_ref
from kubelite.errors import Conflict, Invalid, NotFound

Obj = dict[str, Any]


def selector_matches(selector: Obj, labels: dict[str, str]) -> bool:
    """A ``metav1.LabelSelector`` against labels; an empty selector matches nothing (as controllers read it)."""
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, vals = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in vals:
            return False
        if op == "NotIn" and key in labels and labels.get(key) in vals:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise Invalid(f"unknown selector operator {op!r}")
    return True


class RefManager:
    """Claims objects of one kind (``api_version``/``plural``) for ``owner``."""

    def __init__(self, client: APIClient, owner: Obj, owner_api: tuple[str, str], api_version: str,
                 plural: str) -> None:
        self.client = client
        self.owner = owner
        self.owner_api = owner_api  # (apiVersion, plural) of the owner, to re-read it
        self.api_version = api_version
        self.plural = plural
        self._can_adopt: bool | None = None

    @property
    def uid(self) -> str:
        return str(self.owner["metadata"]["uid"])

    async def claim(self, objects: list[Obj]) -> list[Obj]:
        """The objects the owner controls after adopting matching orphans and releasing mismatches."""
        selector = (self.owner.get("spec") or {}).get("selector") or {}
        mine = []
        for obj in objects:
            md = obj["metadata"]
            matches = selector_matches(selector, md.get("labels") or {})
            ref = controller_of(obj)
            if ref is not None:
                if ref.get("uid") != self.uid:
                    continue
                if matches:
                    mine.append(obj)
                elif not md.get("deletionTimestamp"):
                    await self._release(obj)
                continue
            if not matches or md.get("deletionTimestamp") or self.owner["metadata"].get("deletionTimestamp"):
                continue
            if not await self._owner_can_adopt():
                continue
            adopted = await self._adopt(obj)
            if adopted is not None:
                mine.append(adopted)
        return mine

    async def _owner_can_adopt(self) -> bool:
        if self._can_adopt is None:
            md = self.owner["metadata"]
            try:
                fresh = await self.client.get(resource_path(*self.owner_api, md["namespace"], md["name"]))
            except NotFound:
                self._can_adopt = False
            else:
                fmd = fresh["metadata"]
                self._can_adopt = fmd.get("uid") == md["uid"] and not fmd.get("deletionTimestamp")
        return self._can_adopt

    def _path(self, obj: Obj) -> str:
        return resource_path(self.api_version, self.plural, obj["metadata"]["namespace"], obj["metadata"]["name"])

    async def _adopt(self, obj: Obj) -> Obj | None:
        patch = {"metadata": {"uid": obj["metadata"]["uid"], "ownerReferences": [controller_ref(self.owner)]}}
        try:
            return await self.client.patch(self._path(obj), patch, "strategic")
        except (NotFound, Invalid, Conflict):
            return None  # gone, or a namesake with another uid: nothing to adopt

    async def _release(self, obj: Obj) -> None:
        patch = {"metadata": {"uid": obj["metadata"]["uid"],
                              "ownerReferences": [{"$patch": "delete", "uid": self.uid}]}}
        try:
            await self.client.patch(self._path(obj), patch, "strategic")
        except (NotFound, Invalid, Conflict):
            pass  # gone or replaced: nothing left to release
