"""ImageLocality: prefer nodes that already hold the pod's images, weighted by how rare the image is.

As Kubernetes: each image present on the node adds its size times the share
of nodes that have it (an image on every node says nothing), and the sum is
mapped between 23 MB (score 0) and 1000 MB per container (score 100). The
cache counts how many nodes hold each image, so PreScore skips pods whose
images no node reports, which is the common case on simulated nodes.
"""

from __future__ import annotations

from collections.abc import Callable

from kubelite.scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, Status
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo, normalize_image

NAME = "ImageLocality"
MB = 1024 * 1024
MIN_THRESHOLD, MAX_CONTAINER_THRESHOLD = 23 * MB, 1000 * MB


class ImageLocality:
    name = NAME

    def __init__(self, image_nodes: Callable[[str], int] | None = None) -> None:
        self.image_nodes = image_nodes or (lambda image: 0)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        spec = pod.pod.get("spec") or {}
        images = [normalize_image(str(c.get("image") or "")) for c in spec.get("containers") or []]
        counts = {i: self.image_nodes(i) for i in images}
        if not any(counts.values()):
            return SKIP
        total = max(len(state.all_nodes), 1)
        state.data[NAME] = ([(i, counts[i] / total) for i in images], len(images))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        images: list[tuple[str, float]] = state.data[NAME][0]
        n: int = state.data[NAME][1]
        s = sum(int(node.images.get(i, 0) * spread) for i, spread in images)
        hi = MAX_CONTAINER_THRESHOLD * n
        s = min(max(s, MIN_THRESHOLD), hi)
        return MAX_NODE_SCORE * (s - MIN_THRESHOLD) // (hi - MIN_THRESHOLD)
