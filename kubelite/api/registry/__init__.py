"""The resource registry: every kind the server serves, looked up by group/version/plural.

Discovery, OpenAPI, routing and storage all read this one table, so adding a
kind is adding one :class:`~kubelite.api.registry.base.Strategy` subclass to
``KINDS`` and nothing else.
"""

from __future__ import annotations

from kubelite.api.registry.apps import DaemonSet, Deployment, ReplicaSet, StatefulSet
from kubelite.api.registry.base import Strategy
from kubelite.api.registry.batch import CronJob, Job
from kubelite.api.registry.controllerrevision import ControllerRevision
from kubelite.api.registry.coordination import Lease
from kubelite.api.registry.core import ConfigMap, Endpoints, Event, Namespace, Node, Secret, ServiceAccount
from kubelite.api.registry.discovery import EndpointSlice
from kubelite.api.registry.events import EventV1
from kubelite.api.registry.metrics import METRICS
from kubelite.api.registry.pods import Pod, Service
from kubelite.api.registry.policy import PodDisruptionBudget
from kubelite.api.registry.reviews import REVIEWS

KINDS: list[Strategy] = [
    Namespace(), ConfigMap(), Secret(), Pod(), Service(), ServiceAccount(), Node(), Event(), Endpoints(),
    Deployment(), ReplicaSet(), StatefulSet(), DaemonSet(), Job(), CronJob(), Lease(), EndpointSlice(), EventV1(),
    ControllerRevision(), PodDisruptionBudget(), *REVIEWS, *METRICS,
]


class Registry:
    """Lookups over the served kinds, in the order discovery lists them."""

    def __init__(self, kinds: list[Strategy]) -> None:
        self.kinds = kinds
        self._by_path = {(k.group, k.version, k.plural): k for k in kinds}

    def lookup(self, group: str, version: str, plural: str) -> Strategy | None:
        return self._by_path.get((group, version, plural))

    def group_versions(self) -> list[tuple[str, str]]:
        """(group, version) pairs, core first, each once, in registration order."""
        seen: dict[tuple[str, str], None] = {}
        for k in kinds_sorted(self.kinds):
            seen.setdefault((k.group, k.version), None)
        return list(seen)

    def in_group_version(self, group: str, version: str) -> list[Strategy]:
        return [k for k in self.kinds if k.group == group and k.version == version]


def kinds_sorted(kinds: list[Strategy]) -> list[Strategy]:
    return sorted(kinds, key=lambda k: (k.group != "", k.group))


REGISTRY = Registry(KINDS)
