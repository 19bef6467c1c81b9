"""Why a pod fits nowhere, worded exactly as kube-scheduler words it.

``0/3 nodes are available: 1 Insufficient memory, 2 node(s) had untolerated
taint {dedicated: gpu}. preemption: 0/3 nodes are available: 3 Preemption is
not helpful for scheduling.``: every reason of every rejected node is counted,
the "count reason" strings are sorted as strings (Kubernetes sorts them the
same way, so "10 ..." sorts before "2 ..."), and the PreFilter and PostFilter
messages are appended as sentences.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from kubelite.scheduler.framework import Status

NO_NODES = "no nodes available to schedule pods"


def histogram(reasons: Iterable[str]) -> str:
    counts = Counter(reasons)
    return ", ".join(sorted(f"{n} {r}" for r, n in counts.items()))


def fit_error(num_nodes: int, statuses: dict[str, Status], pre_filter_msg: str = "",
              post_filter_msg: str = "") -> str:
    if num_nodes == 0:
        return NO_NODES
    msg = f"0/{num_nodes} nodes are available:"
    if pre_filter_msg:
        msg += f" {pre_filter_msg}."
    else:
        hist = histogram(r for st in statuses.values() for r in st.reasons)
        if hist:
            msg += f" {hist}."
    if post_filter_msg:
        msg += f" {post_filter_msg}"
        if not post_filter_msg.endswith("."):
            msg += "."
    return msg
