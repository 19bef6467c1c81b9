"""``metrics.k8s.io/v1beta1``: NodeMetrics and PodMetrics, what ``kubectl top`` reads. Read-only, never stored.

In Kubernetes these come from metrics-server, an add-on behind the aggregation
layer that scrapes every kubelet's Summary API. kubelite serves the same group
itself (as k3s bundles metrics-server), so ``kubectl top`` works on a fresh
cluster: :mod:`kubelite.api.metrics` asks the node agents when a request comes.
The strategies are routed, listed in discovery and authorized like any kind.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kubelite.api.registry.base import Strategy

META, QUANTITY = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "io.k8s.apimachinery.pkg.api.resource.Quantity"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


USAGE = {"type": "object", "additionalProperties": _ref(QUANTITY), "description": "The memory and CPU usage."}


class MetricsView(Strategy):
    group, version = "metrics.k8s.io", "v1beta1"
    verbs: ClassVar[tuple[str, ...]] = ("get", "list")
    openapi_refs: ClassVar[tuple[str, ...]] = (META, QUANTITY)

    def openapi_schema(self) -> dict[str, Any]:
        """metrics-server's types (k8s.io/metrics), which the bundled Kubernetes schemas do not carry."""
        return {"type": "object", "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": _ref(META),
            "timestamp": {"type": "string", "format": "date-time",
                          "description": "The end of the window the usage was measured over."},
            "window": {"type": "string", "description": "How long the usage was measured over."},
            **self.usage_properties()}}

    def usage_properties(self) -> dict[str, Any]:
        raise NotImplementedError


class NodeMetrics(MetricsView):
    kind, plural, singular = "NodeMetrics", "nodes", ""
    namespaced = False

    def usage_properties(self) -> dict[str, Any]:
        return {"usage": USAGE}


class PodMetrics(MetricsView):
    kind, plural, singular = "PodMetrics", "pods", ""

    def usage_properties(self) -> dict[str, Any]:
        return {"containers": {"type": "array", "description": "Metrics of the pod's containers.", "items": {
            "type": "object", "required": ["name", "usage"],
            "properties": {"name": {"type": "string"}, "usage": USAGE}}}}


METRICS: list[Strategy] = [NodeMetrics(), PodMetrics()]
