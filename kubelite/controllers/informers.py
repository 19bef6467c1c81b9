"""One informer per resource, shared by every controller that watches it (client-go's SharedInformerFactory).

Controllers ask for an informer while they are being built; the factory hands
out the same :class:`~kubelite.api.informer.Informer` to every asker, so the
server sees one list+watch per resource however many controllers read it, and
every controller reads the same cache. :meth:`SharedInformers.start` starts all of
them and returns when each has its first list, the moment controllers may trust
their caches; an informer asked for later is started by the next ``start``.

Every informer comes with two indexes controllers keep needing: ``namespace``
(objects of one namespace) and ``controller`` (objects by the uid of their
controlling ownerReference).
"""

from __future__ import annotations

import asyncio

from kubelite.api.client import APIClient, resource_path
from kubelite.api.informer import Informer, Obj

NAMESPACE_INDEX = "namespace"
CONTROLLER_INDEX = "controller"


def _namespace(obj: Obj) -> list[str]:
    ns = (obj.get("metadata") or {}).get("namespace")
    return [ns] if ns else []


def _controller_uid(obj: Obj) -> list[str]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [str(r.get("uid")) for r in refs if r.get("controller")][:1]


class SharedInformers:
    def __init__(self, client: APIClient) -> None:
        self.client = client
        self._informers: dict[str, Informer] = {}
        self._started: set[str] = set()

    def informer(self, api_version: str, plural: str) -> Informer:
        """The informer of every object of ``plural`` in ``api_version`` (``v1``, ``apps/v1``) in all namespaces."""
        path = resource_path(api_version, plural)
        inf = self._informers.get(path)
        if inf is None:
            inf = Informer(self.client, path, name=f"{api_version}/{plural}")
            inf.add_index(NAMESPACE_INDEX, _namespace)
            inf.add_index(CONTROLLER_INDEX, _controller_uid)
            self._informers[path] = inf
        return inf

    # The resources nearly every controller needs, spelled once.
    def pods(self) -> Informer:
        return self.informer("v1", "pods")

    def replicasets(self) -> Informer:
        return self.informer("apps/v1", "replicasets")

    def deployments(self) -> Informer:
        return self.informer("apps/v1", "deployments")

    async def start(self) -> None:
        """Start every informer not yet started and wait until each has listed once."""
        todo = [(p, inf) for p, inf in self._informers.items() if p not in self._started]
        self._started.update(p for p, _ in todo)
        await asyncio.gather(*(inf.start() for _, inf in todo))

    async def stop(self) -> None:
        await asyncio.gather(*(inf.stop() for inf in self._informers.values()))
        self._started.clear()
