"""The namespace controller: empty a Terminating namespace, then lift its ``kubernetes`` finalizer.

kube's ``namespace`` controller. When a namespace is deleted, the API server keeps
it (``deletionTimestamp`` set, ``status.phase: Terminating``, creates in it refused)
while ``spec.finalizers`` holds ``kubernetes``; this controller then:

1. deletes every namespaced resource in it, one ``deletecollection`` per resource
   found by discovery (so kinds added later are covered, events included), with
   Background propagation so owners and dependents go together;
2. lists what is left and, while anything is, records why on the namespace as
   kube does (``NamespaceContentRemaining``: "Some resources are remaining: ...",
   ``NamespaceFinalizersRemaining`` naming the finalizers that hold objects back)
   and tries again after ``namespace_resync_period``;
3. once empty, removes ``kubernetes`` from ``spec.finalizers`` through the
   ``finalize`` subresource; the server deletes the namespace on that update
   unless other finalizers (``spec`` or ``metadata``) still hold it, and then
   on the update that lifts the last of them.

Content keeps being deleted until the list comes back empty, because a
controller may still create something in the namespace in the instant before
the server saw it Terminating. :meth:`NamespaceController.delete_content` is
step 1 and 2 and can be called on its own.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kubelite.api.client import resource_path
from kubelite.controllers.apiresources import APIResource, discover
from kubelite.controllers.base import Controller, ControllerContext
from kubelite.controllers.jobstatus import set_condition
from kubelite.errors import Conflict, Forbidden, Invalid, NotFound

Obj = dict[str, Any]
KUBERNETES_FINALIZER = "kubernetes"


@dataclass
class Remaining:
    """What a namespace still holds after a round of deletes."""

    resources: Counter[str] = field(default_factory=Counter)  # "configmaps" -> count
    finalizers: Counter[str] = field(default_factory=Counter)  # finalizer -> objects it holds
    errors: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.resources or self.errors)


class NamespaceController(Controller):
    name = "namespace"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.namespaces = ctx.informers.informer("v1", "namespaces")
        self.namespaces.add_handler(self._on_namespace)
        self.resources: list[APIResource] = []

    async def start(self) -> None:
        await self.discover()
        await super().start()

    async def discover(self) -> None:
        found = await discover(self.client, frozenset({"list", "deletecollection"}), frozenset())
        self.resources = [r for r in found if r.namespaced]

    def _on_namespace(self, etype: str, ns: Obj, old: Obj | None) -> None:
        if etype != "DELETED" and ns["metadata"].get("deletionTimestamp"):
            self.enqueue(ns)

    async def sync(self, key: str) -> None:
        ns = self.namespaces.get(key)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        if KUBERNETES_FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return
        left = await self.delete_content(key)
        ns = await self._write_conditions(ns, left)
        if left:
            self.enqueue_after(key, self.options.namespace_resync_period)
            return
        await self._finalize(ns)

    # --- content -----------------------------------------------------------------------------------------

    async def delete_content(self, namespace: str) -> Remaining:
        """Delete everything in ``namespace`` once and report what is still there."""
        left = Remaining()
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}

        async def one(r: APIResource) -> None:
            path = r.path(namespace)
            try:
                await self.client.delete(path, body)
                items = (await self.client.list(path)).get("items") or []
            except NotFound:
                return
            except (Forbidden, Invalid) as e:
                left.errors.append(f"{r.plural}: {e}")
                return
            if items:
                left.resources[f"{r.plural}.{r.group}" if r.group else r.plural] += len(items)
            for obj in items:
                for f in (obj.get("metadata") or {}).get("finalizers") or []:
                    left.finalizers[f] += 1

        await asyncio.gather(*(one(r) for r in self.resources))
        return left

    async def _write_conditions(self, ns: Obj, left: Remaining) -> Obj:
        """Record ``left`` on the namespace; returns the namespace as written (or as it was)."""
        status = dict(ns.get("status") or {})
        status["conditions"] = [dict(c) for c in status.get("conditions") or []]
        if left.resources:
            msg = "Some resources are remaining: " + ", ".join(
                f"{k} has {v} resource instances" for k, v in sorted(left.resources.items()))
            set_condition(status, "NamespaceContentRemaining", "SomeResourcesRemain", msg)
        else:
            set_condition(status, "NamespaceContentRemaining", "ContentRemoved", "All content successfully removed",
                          "False")
        if left.finalizers:
            msg = "Some content in the namespace has finalizers remaining: " + ", ".join(
                f"{k} in {v} resource instances" for k, v in sorted(left.finalizers.items()))
            set_condition(status, "NamespaceFinalizersRemaining", "SomeFinalizersRemain", msg)
        else:
            set_condition(status, "NamespaceFinalizersRemaining", "ContentHasNoFinalizers",
                          "All content-preserving finalizers finished", "False")
        if left.errors:
            set_condition(status, "NamespaceDeletionContentFailure", "ContentDeletionFailed",
                          "; ".join(left.errors))
        for c in status["conditions"]:
            c.pop("lastProbeTime", None)  # NamespaceCondition has no probe time
        if status == (ns.get("status") or {}):
            return ns
        status["phase"] = "Terminating"
        name = ns["metadata"]["name"]
        try:
            written: Obj = await self.client.replace(resource_path("v1", "namespaces", None, name, "status"),
                                                     {**ns, "status": status})
            return written
        except (Conflict, NotFound):
            return ns  # informational only; the next round writes it again

    async def _finalize(self, ns: Obj) -> None:
        name = ns["metadata"]["name"]
        rest = [f for f in (ns.get("spec") or {}).get("finalizers") or [] if f != KUBERNETES_FINALIZER]
        try:  # the server deletes it on this update when nothing else holds it
            await self.client.replace(resource_path("v1", "namespaces", None, name, "finalize"),
                                      {**ns, "spec": {**(ns.get("spec") or {}), "finalizers": rest}})
        except NotFound:
            return
