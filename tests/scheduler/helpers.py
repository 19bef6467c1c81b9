"""Node and Pod dicts for scheduler tests, shaped as the API returns them."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def node(name: str, cpu: str = "4", memory: str = "8Gi", pods: int = 110, labels: dict[str, str] | None = None,
         taints: list[Obj] | None = None, ready: str = "True", unschedulable: bool = False,
         images: list[Obj] | None = None) -> Obj:
    alloc = {"cpu": cpu, "memory": memory, "pods": str(pods)}
    spec: Obj = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    status: Obj = {"capacity": alloc, "allocatable": alloc,
                   "conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady",
                                   "message": "simulated", "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                                   "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
    if images:
        status["images"] = images
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": spec, "status": status}


def pod(name: str, cpu: str | None = "100m", memory: str | None = "128Mi", namespace: str = "default",
        labels: dict[str, str] | None = None, priority: int | None = None, node_name: str | None = None,
        **spec: Any) -> Obj:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    container: Obj = {"name": "c", "image": "busybox"}
    if requests:
        container["resources"] = {"requests": requests}
    s: Obj = {"containers": [container], **spec}
    if priority is not None:
        s["priority"] = priority
    if node_name:
        s["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}, "uid": f"uid-{name}"},
            "spec": s}
