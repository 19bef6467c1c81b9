"""The garbage collector: ownerReferences, and the ``orphan`` / ``foregroundDeletion`` finalizers the server sets.

As kube's ``garbagecollector`` it keeps a graph of every object of every
deletable resource (found by discovery, watched with the shared informers),
keyed by uid: each node knows its owners, and an index gives each uid its
dependents. The work queue holds uids; one sync decides about one object from
the graph, level-triggered, so a restart simply rebuilds the graph and carries on.

- **Dangling owners.** An object whose owners are all gone is deleted (Background,
  or the policy its own finalizers ask for). "Gone" is never concluded from the
  cache alone: an owner absent from the graph is looked up with a live GET (same
  name and uid or it is gone), because the owner's watch may simply lag the
  dependent's. References to gone owners are removed from an object that still
  has a live owner.
- **Orphan.** An owner marked for deletion with the ``orphan`` finalizer has its
  reference removed from every dependent, then the finalizer, which lets the
  server delete it.
- **Foreground.** An owner marked with ``foregroundDeletion`` has its dependents
  deleted (dependents that have dependents of their own are deleted Foreground in
  turn, so the whole tree goes bottom-up); once no dependent that references it with
  ``blockOwnerDeletion: true`` is left, the finalizer goes and so does the owner. A
  dependent that also has a live owner is not deleted: its reference to the
  deleting owner stops blocking instead.

Every change is an optimistic write (resourceVersion or uid precondition); a
conflict just means the cache was stale and the base retries the uid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from kubelite.api.informer import Obj
from kubelite.controllers.apiresources import APIResource, ResourceMap, discover
from kubelite.controllers.base import Controller, ControllerContext
from kubelite.errors import NotFound

log = logging.getLogger(__name__)

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"


@dataclass
class Node:
    uid: str
    resource: APIResource
    namespace: str
    name: str
    rv: str
    owners: list[Obj]
    finalizers: list[str]
    deleting: bool
    dependents: set[str] = field(default_factory=set)

    @property
    def waiting_for_dependents(self) -> bool:
        return self.deleting and FOREGROUND in self.finalizers

    def path(self) -> str:
        return self.resource.path(self.namespace, self.name)


class GarbageCollector(Controller):
    name = "garbage-collector"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.graph: dict[str, Node] = {}
        # owner uid -> dependent uids; kept apart from Node so an owner not yet seen still collects dependents
        self.dependents: dict[str, set[str]] = {}
        self.resources = ResourceMap([])

    async def start(self) -> None:
        resources = await discover(self.client)
        self.resources = ResourceMap(resources)
        for r in resources:
            self.ctx.informers.informer(r.api_version, r.plural).add_handler(self._handler(r))
        await self.ctx.informers.start()  # the informers nobody else asked for yet
        await super().start()

    # --- the graph ---------------------------------------------------------------------------------------

    def _handler(self, resource: APIResource) -> Any:
        def handle(etype: str, obj: Obj, old: Obj | None) -> None:
            md = obj.get("metadata") or {}
            uid = str(md.get("uid", ""))
            if not uid:
                return
            if etype == "DELETED":
                self._remove(uid)
                return
            prev = self.graph.get(uid)
            node = Node(uid, resource, md.get("namespace", ""), md.get("name", ""), md.get("resourceVersion", ""),
                        list(md.get("ownerReferences") or []), list(md.get("finalizers") or []),
                        bool(md.get("deletionTimestamp")))
            self.graph[uid] = node
            old_owners = {str(r.get("uid")) for r in prev.owners} if prev else set()
            new_owners = {str(r.get("uid")) for r in node.owners}
            for o in old_owners - new_owners:
                self.dependents.get(o, set()).discard(uid)
                self.enqueue(o)  # it may have been waiting for this dependent to let go
            for o in new_owners:
                self.dependents.setdefault(o, set()).add(uid)
            if node.owners or (node.deleting and {ORPHAN, FOREGROUND} & set(node.finalizers)):
                self.enqueue(uid)
            if node.deleting and (prev is None or not prev.deleting):
                for d in self.dependents.get(uid, set()):
                    self.enqueue(d)
            elif prev is not None and prev.owners != node.owners:
                for o in old_owners | new_owners:
                    self.enqueue(o)
        return handle

    def _remove(self, uid: str) -> None:
        node = self.graph.pop(uid, None)
        for d in self.dependents.get(uid, set()):
            self.enqueue(d)  # their owner is gone: dangling now
        if node is not None:
            for ref in node.owners:
                o = str(ref.get("uid"))
                self.dependents.get(o, set()).discard(uid)
                if not self.dependents.get(o) and o not in self.graph:
                    self.dependents.pop(o, None)
                self.enqueue(o)  # a foreground owner may have been waiting for this one

    # --- sync --------------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        node = self.graph.get(key)
        if node is None:
            return
        if node.deleting and ORPHAN in node.finalizers:
            await self._orphan_dependents(node)
            return
        if node.waiting_for_dependents:
            await self._delete_dependents(node)
            return
        if node.owners and not node.deleting:
            await self._check_owners(node)

    async def _owner_state(self, node: Node, ref: Obj) -> str:
        """``solid``, ``waiting`` (being deleted in the foreground) or ``dangling``."""
        uid = str(ref.get("uid"))
        owner = self.graph.get(uid)
        if owner is not None:
            return "waiting" if owner.waiting_for_dependents else "solid"
        res = self.resources.for_ref(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
        if res is None:
            return "solid"  # a kind we cannot look up: never delete on a guess
        try:
            live = await self.client.get(res.path(node.namespace, str(ref.get("name", ""))))
        except NotFound:
            return "dangling"
        md = live.get("metadata") or {}
        if md.get("uid") != uid:
            return "dangling"
        return "waiting" if md.get("deletionTimestamp") and FOREGROUND in (md.get("finalizers") or []) else "solid"

    async def _check_owners(self, node: Node) -> None:
        states = {str(r.get("uid")): await self._owner_state(node, r) for r in node.owners}
        solid = [u for u, s in states.items() if s == "solid"]
        if solid:
            dangling = {u for u, s in states.items() if s == "dangling"}
            waiting = {u for u, s in states.items() if s == "waiting"}
            if not dangling and not any(r.get("blockOwnerDeletion") for r in node.owners
                                        if str(r.get("uid")) in waiting):
                return
            refs = [dict(r, blockOwnerDeletion=False) if str(r.get("uid")) in waiting else r
                    for r in node.owners if str(r.get("uid")) not in dangling]
            await self.client.patch(node.path(), {"metadata": {"ownerReferences": refs, "resourceVersion": node.rv}})
            return
        if any(s == "waiting" for s in states.values()):
            policy = "Foreground" if self.dependents.get(node.uid) else "Background"
        elif ORPHAN in node.finalizers:
            policy = "Orphan"
        elif FOREGROUND in node.finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        log.info("garbage collector: deleting %s %s/%s (%s)", node.resource.kind, node.namespace, node.name, policy)
        await self._delete(node, policy)

    async def _delete(self, node: Node, policy: str) -> None:
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": policy,
                "preconditions": {"uid": node.uid}}
        try:
            await self.client.delete(node.path(), body)
        except NotFound:
            pass

    async def _orphan_dependents(self, node: Node) -> None:
        for d in list(self.dependents.get(node.uid, set())):
            dep = self.graph.get(d)
            if dep is None or (dep.deleting and not dep.finalizers):
                continue  # gone or going (a write to a gracefully terminating pod would cut its grace short)
            refs = [r for r in dep.owners if str(r.get("uid")) != node.uid]
            try:
                await self.client.patch(dep.path(), {"metadata": {"ownerReferences": refs or None,
                                                                  "resourceVersion": dep.rv}})
            except NotFound:
                pass
        await self._remove_finalizer(node, ORPHAN)

    async def _delete_dependents(self, node: Node) -> None:
        blocking = 0
        for d in list(self.dependents.get(node.uid, set())):
            dep = self.graph.get(d)
            if dep is None:
                continue
            ref = next((r for r in dep.owners if str(r.get("uid")) == node.uid), {})
            if ref.get("blockOwnerDeletion"):
                blocking += 1
            if not dep.deleting:
                self.enqueue(d)  # its own sync decides: delete it, or unblock if it has another owner
        if blocking == 0:
            await self._remove_finalizer(node, FOREGROUND)

    async def _remove_finalizer(self, node: Node, finalizer: str) -> None:
        rest = [f for f in node.finalizers if f != finalizer]
        try:
            await self.client.patch(node.path(), {"metadata": {"finalizers": rest or None,
                                                               "resourceVersion": node.rv}})
        except NotFound:
            pass
