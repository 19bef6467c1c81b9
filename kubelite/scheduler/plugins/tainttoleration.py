"""TaintToleration: NoSchedule and NoExecute taints a pod does not tolerate keep it off a node;
PreferNoSchedule taints it does not tolerate lower the node's score.

The first untolerated taint is the reason, worded as Kubernetes words it:
``node(s) had untolerated taint {key: value}``. Not-ready nodes carry a
synthetic ``node.kubernetes.io/not-ready`` taint (see ``nodeinfo``), so they
are rejected with that wording too. Nothing on the node can change by
preemption, so the rejection is unresolvable.
"""

from __future__ import annotations

from collections.abc import Callable

from kubelite.scheduler.columns import Bools, NodeColumns
from kubelite.scheduler.framework import MAX_NODE_SCORE, CycleState, Status, unschedulable
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo
from kubelite.scheduler.selectors import tolerated

NAME = "TaintToleration"
_HARD = ("NoSchedule", "NoExecute")


def untolerated_taint(pod: PodInfo, node: NodeInfo) -> dict[str, str] | None:
    for t in node.taints:
        if t.get("effect") in _HARD and not tolerated(pod.tolerations, t):
            return t
    return None


class TaintToleration:
    name = NAME

    def __init__(self, tainted: Callable[[], int] | None = None) -> None:
        self.tainted = tainted or (lambda: 1)  # how many nodes have taints: none, nothing to check

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.taints:
            return None
        t = untolerated_taint(pod, node)
        if t is None:
            return None
        return unschedulable(NAME, f"node(s) had untolerated taint {{{t.get('key', '')}: {t.get('value') or ''}}}",
                             resolvable=False)

    def pass_mask(self, state: CycleState, pod: PodInfo, columns: NodeColumns) -> Bools | bool | None:
        """Untainted rows pass; a tainted one is judged on its own."""
        return True if not self.tainted() else ~columns.tainted

    def filter_all(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                   statuses: dict[str, Status]) -> list[NodeInfo]:
        if not self.tainted():
            return nodes
        out = []
        for n in nodes:
            if not n.taints:
                out.append(n)
                continue
            st = self.filter(state, pod, n)
            if st is None:
                out.append(n)
            else:
                statuses[n.name] = st
        return out

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.score_all(state, pod, [node])[0]

    def score_all(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        prefer = [t for t in pod.tolerations if t.get("effect") in (None, "", "PreferNoSchedule")]
        if not self.tainted():
            return [MAX_NODE_SCORE] * len(nodes)
        counts = [sum(1 for t in n.taints if t.get("effect") == "PreferNoSchedule" and not tolerated(prefer, t))
                  if n.taints else 0 for n in nodes]
        top = max(counts, default=0)
        if top == 0:
            return [MAX_NODE_SCORE] * len(nodes)
        return [MAX_NODE_SCORE - c * MAX_NODE_SCORE // top for c in counts]
