"""The scheduler's cache: every node and what the pods bound (or about to be bound) to it request.

Fed by the node and pod informers, read by every cycle. Assume-then-bind as in
kube-scheduler: as soon as a cycle picks a node, the pod is *assumed* there
(counted on the node) before the binding call is even sent, so the next cycle
already sees the room it took; ``forget`` undoes that when the binding fails.
When the informer then reports the pod bound, the assumed entry is replaced by
the real one (the same key), whichever arrives first.

Pods naming a node the informer has not delivered yet are kept on a placeholder
NodeInfo (``node is None``), which no cycle considers. ``node_infos`` is a list
rebuilt only when nodes come or go, so cycles do not copy it; its ``columns``
(see ``columns``) are rebuilt with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubelite.scheduler.columns import NodeColumns
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo, pod_key

Obj = dict[str, Any]


class Cache:
    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self.pod_node: dict[str, str] = {}  # pod key -> node name
        self.assumed: set[str] = set()
        self.nominated: dict[str, dict[str, PodInfo]] = {}  # node -> pods nominated there by preemption
        self.nominated_of: dict[str, str] = {}
        self.image_nodes: dict[str, int] = {}
        self.anti_affinity_pods = 0
        self.tainted: set[str] = set()  # nodes with taints (real or synthetic not-ready ones)
        self.cordoned: set[str] = set()
        self._list: list[NodeInfo] | None = None
        self._columns = NodeColumns([])

    # --- reads ---------------------------------------------------------------------------------------------

    def node_infos(self) -> Sequence[NodeInfo]:
        if self._list is None:
            for ni in self.nodes.values():
                ni.columns, ni.row = None, -1
            self._list = [n for n in self.nodes.values() if n.node is not None]
            self._columns = NodeColumns(self._list)
        return self._list

    def columns(self) -> NodeColumns:
        """Row ``i`` is ``node_infos()[i]``."""
        self.node_infos()
        return self._columns

    def get(self, name: str) -> NodeInfo | None:
        ni = self.nodes.get(name)
        return ni if ni is not None and ni.node is not None else None

    def image_count(self, image: str) -> int:
        return self.image_nodes.get(image, 0)

    def count_anti_affinity(self) -> int:
        return self.anti_affinity_pods

    def count_tainted(self) -> int:
        return len(self.tainted)

    def count_cordoned(self) -> int:
        return len(self.cordoned)

    # --- nodes ---------------------------------------------------------------------------------------------

    def set_node(self, node: Obj) -> None:
        name = str((node.get("metadata") or {}).get("name", ""))
        ni = self.nodes.get(name)
        if ni is None:
            ni = self.nodes[name] = NodeInfo(name)
        if ni.node is None:
            self._list = None
        self._count_images(ni, -1)
        ni.set_node(node)
        self._count_images(ni, 1)
        (self.tainted.add if ni.taints else self.tainted.discard)(name)
        (self.cordoned.add if ni.unschedulable else self.cordoned.discard)(name)

    def touch_node(self, node: Obj) -> None:
        ni = self.nodes.get(str((node.get("metadata") or {}).get("name", "")))
        if ni is not None and ni.node is not None:
            ni.node = node

    def remove_node(self, name: str) -> None:
        ni = self.nodes.get(name)
        if ni is None:
            return
        self._count_images(ni, -1)
        self._list = None
        self.tainted.discard(name)
        self.cordoned.discard(name)
        if ni.pods:
            ni.node = None  # its pods stay accounted until their deletions arrive
        else:
            del self.nodes[name]

    def _count_images(self, ni: NodeInfo, sign: int) -> None:
        for image in ni.images:
            self.image_nodes[image] = self.image_nodes.get(image, 0) + sign
            if self.image_nodes[image] <= 0:
                del self.image_nodes[image]

    # --- pods ----------------------------------------------------------------------------------------------

    def add_pod(self, pi: PodInfo, node: str) -> None:
        """Account a pod on ``node``, replacing whatever was known of it (an assumed copy, an older version)."""
        self.remove_pod(pi.key)
        ni = self.nodes.get(node)
        if ni is None:
            ni = self.nodes[node] = NodeInfo(node)
        ni.add_pod(pi)
        self.pod_node[pi.key] = node
        if pi.has_required_anti_affinity:
            self.anti_affinity_pods += 1
        self.clear_nomination(pi.key)

    def remove_pod(self, key: str) -> PodInfo | None:
        self.assumed.discard(key)
        node = self.pod_node.pop(key, None)
        if node is None:
            return None
        ni = self.nodes.get(node)
        pi = ni.remove_pod(key) if ni is not None else None
        if pi is not None and pi.has_required_anti_affinity:
            self.anti_affinity_pods -= 1
        if ni is not None and ni.node is None and not ni.pods:
            del self.nodes[node]
        return pi

    def assume(self, pi: PodInfo, node: str) -> None:
        self.add_pod(pi, node)
        self.assumed.add(pi.key)

    def confirm(self, pod: Obj, node: str) -> bool:
        """The informer reports a pod we assumed as bound to the node we chose: keep the accounting, take the
        newest object (no re-parse of its requests). False when it is not ours to confirm."""
        key = pod_key(pod)
        if key not in self.assumed or self.pod_node.get(key) != node:
            return False
        ni = self.nodes[node]
        pi = ni.pods[key]
        if (pi.pod.get("metadata") or {}).get("uid") != (pod.get("metadata") or {}).get("uid"):
            return False
        pi.pod = pod
        self.assumed.discard(key)
        self.clear_nomination(key)
        return True

    def forget(self, key: str) -> None:
        if key in self.assumed:
            self.remove_pod(key)

    def is_assumed(self, key: str) -> bool:
        return key in self.assumed

    # --- nominations (preemption) --------------------------------------------------------------------------

    def nominate(self, pi: PodInfo, node: str) -> None:
        self.clear_nomination(pi.key)
        self.nominated.setdefault(node, {})[pi.key] = pi
        self.nominated_of[pi.key] = node

    def clear_nomination(self, key: str) -> None:
        node = self.nominated_of.pop(key, None)
        if node is not None:
            pods = self.nominated.get(node, {})
            pods.pop(key, None)
            if not pods:
                self.nominated.pop(node, None)
