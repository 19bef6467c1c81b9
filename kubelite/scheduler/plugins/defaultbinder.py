"""DefaultBinder: ``POST pods/NAME/binding`` with the chosen node, as kube-scheduler binds.

Binding errors come back as Status values; the pod's UID rides along as a
precondition, so a pod deleted and recreated under the same name is never
bound by a decision made for its predecessor.
"""

from __future__ import annotations

from kubelite.api.client import APIClient, resource_path
from kubelite.errors import KubeliteError
from kubelite.scheduler.framework import CycleState, Status, error
from kubelite.scheduler.nodeinfo import PodInfo

NAME = "DefaultBinder"


class DefaultBinder:
    name = NAME

    def __init__(self, client: APIClient) -> None:
        self.client = client

    async def bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        md = pod.pod.get("metadata") or {}
        body = {"apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": md.get("name"), "namespace": md.get("namespace"), "uid": md.get("uid")},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        try:
            await self.client.create(resource_path("v1", "pods", md.get("namespace"), md.get("name"), "binding"),
                                     body)
        except KubeliteError as e:
            return error(NAME, str(e))
        return None
