"""The service account controller: every active namespace has a ``default`` ServiceAccount, always.

kube's ``serviceaccount`` controller (``ServiceAccountsController``): it watches
namespaces and ServiceAccounts and re-creates ``default`` wherever it is missing,
whether the namespace is new or someone deleted it. The API server also makes
``default`` when a namespace is created (so a pod created the next instant finds
it); this controller is what keeps it there afterwards. A namespace being deleted
gets nothing: its content is on the way out.

A deleted ``default`` is replaced at once, after a live read of the namespace (the
informer may not have seen it turn Terminating yet); the server refuses a create
in a Terminating namespace anyway (403), which is taken as "nothing to do".
"""

from __future__ import annotations

from typing import Any

from kubelite.api.client import resource_path
from kubelite.api.namespaces import is_terminating
from kubelite.controllers.base import Controller, ControllerContext
from kubelite.errors import AlreadyExists, Forbidden, NotFound

Obj = dict[str, Any]
DEFAULT = "default"


class ServiceAccountController(Controller):
    name = "serviceaccount"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.namespaces = ctx.informers.informer("v1", "namespaces")
        self.accounts = ctx.informers.informer("v1", "serviceaccounts")
        self.namespaces.add_handler(self._on_namespace)
        self.accounts.add_handler(self._on_account)

    def _on_namespace(self, etype: str, ns: Obj, old: Obj | None) -> None:
        if etype != "DELETED":
            self.enqueue(ns)

    def _on_account(self, etype: str, sa: Obj, old: Obj | None) -> None:
        if etype == "DELETED" and sa["metadata"].get("name") == DEFAULT:
            self.enqueue(sa["metadata"]["namespace"])

    async def sync(self, key: str) -> None:
        ns = self.namespaces.get(key)
        if ns is None or is_terminating(ns):
            return
        if self.accounts.get(f"{key}/{DEFAULT}") is not None:
            return
        try:
            live = await self.client.get(resource_path("v1", "namespaces", None, key))
        except NotFound:
            return
        if is_terminating(live):
            return
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": DEFAULT, "namespace": key}}
        try:
            await self.client.create(resource_path("v1", "serviceaccounts", key), body)
        except (AlreadyExists, NotFound, Forbidden):
            pass  # made meanwhile, or the namespace went or is terminating
