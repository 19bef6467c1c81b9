"""Indexed Jobs (``completionMode: Indexed``): each completion index 0..completions-1 must succeed once.

As kube: a pod is made for one index, which it carries as the
``batch.kubernetes.io/job-completion-index`` annotation and label, in its
hostname (``<job>-<index>``), its generated name (``<job>-<index>-``) and, through the
downward API, the ``JOB_COMPLETION_INDEX`` variable of every container. The Job's
``status.completedIndexes`` lists the succeeded indexes as compressed intervals
(``"0-2,5"``) and ``succeeded`` is their number. Missing indexes get pods, lowest
first, up to ``parallelism``; a second active pod for an index is surplus.
"""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]
INDEX_KEY = "batch.kubernetes.io/job-completion-index"


def is_indexed(spec: Obj) -> bool:
    return spec.get("completionMode") == "Indexed"


def pod_index(pod: Obj, completions: int) -> int | None:
    """The pod's completion index, or None when it has none or an invalid one."""
    raw = (pod["metadata"].get("annotations") or {}).get(INDEX_KEY)
    if raw is None or not str(raw).isdigit():
        return None
    i = int(raw)
    return i if i < completions else None


def parse_intervals(text: str | None) -> set[int]:
    out: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        if lo.isdigit() and (not hi or hi.isdigit()):
            out.update(range(int(lo), int(hi or lo) + 1))
    return out


def format_intervals(indexes: set[int]) -> str:
    parts: list[str] = []
    run: list[int] = []
    for i in sorted(indexes):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [i]
    if run:
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(parts)


def template_for(template: Obj, job_name: str, index: int) -> Obj:
    """The Job's pod template, made into the template of the pod for ``index``."""
    t = copy.deepcopy(template)
    md = t.setdefault("metadata", {})
    md.setdefault("annotations", {})[INDEX_KEY] = str(index)
    md.setdefault("labels", {})[INDEX_KEY] = str(index)
    spec = t.setdefault("spec", {})
    spec.setdefault("hostname", f"{job_name}-{index}")
    env = {"name": "JOB_COMPLETION_INDEX",
           "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{INDEX_KEY}']"}}}
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if not any(e.get("name") == "JOB_COMPLETION_INDEX" for e in c.get("env") or []):
            c.setdefault("env", []).append(dict(env))
    return t


def plan(completions: int, parallelism: int, completed: set[int], active: list[Obj]) -> tuple[list[int], list[Obj]]:
    """(indexes to start, surplus active pods to delete)."""
    seen: set[int] = set()
    surplus: list[Obj] = []
    for p in active:
        i = pod_index(p, completions)
        if i is None or i in seen or i in completed:
            surplus.append(p)
        else:
            seen.add(i)
    room = max(0, parallelism - len(seen))
    missing = [i for i in range(completions) if i not in completed and i not in seen][:room]
    return missing, surplus
