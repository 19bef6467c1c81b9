"""A Job's ``podFailurePolicy``: what one failed pod means, decided by the first rule that matches it.

kube 1.32 (GA): rules are tried in order on a pod in phase ``Failed``; a rule
matches on ``onExitCodes`` (a container, or the named one, terminated with a
non-zero exit code ``In``/``NotIn`` the values; exit code 0 never matches) or on
``onPodConditions`` (the pod has a condition of that type and status, such as
``DisruptionTarget`` after an eviction). Actions:

- ``FailJob``: the Job fails at once (``FailureTarget``, then ``Failed``, reason
  ``PodFailurePolicy``, kube's message naming the container or condition);
- ``Ignore``: the failure does not count toward ``backoffLimit``;
- ``Count`` (and ``FailIndex``, which needs per-index limits, not done here): as
  without a policy.

With a policy (or ``podReplacementPolicy: Failed``) a terminating pod is not a
failure yet: it is replaced only once it reached ``Failed``
(:func:`only_replace_failed`), so its exit codes can be judged.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
POD_FAILURE_POLICY = "PodFailurePolicy"


def only_replace_failed(spec: Obj) -> bool:
    return spec.get("podReplacementPolicy") == "Failed" or bool(spec.get("podFailurePolicy"))


def _exit_code_match(pod: Obj, req: Obj) -> Obj | None:
    st = pod.get("status") or {}
    values = set(req.get("values") or [])
    for cs in [*(st.get("initContainerStatuses") or []), *(st.get("containerStatuses") or [])]:
        term = (cs.get("state") or {}).get("terminated")
        if not term or (req.get("containerName") and req["containerName"] != cs.get("name")):
            continue
        code = int(term.get("exitCode") or 0)
        if code != 0 and ((code in values) == (req.get("operator") == "In")):
            found: Obj = cs
            return found
    return None


def _condition_match(pod: Obj, patterns: list[Obj]) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        for want in patterns:
            if c.get("type") == want.get("type") and c.get("status") == (want.get("status") or "True"):
                found: Obj = c
                return found
    return None


def match(spec: Obj, pod: Obj) -> tuple[str, str] | None:
    """``(action, message)`` of the first rule matching the failed ``pod``, or None (count it as usual)."""
    policy = spec.get("podFailurePolicy") or {}
    md = pod["metadata"]
    who = f"{md.get('namespace')}/{md.get('name')}"
    for i, rule in enumerate(policy.get("rules") or []):
        action = str(rule.get("action") or "")
        if rule.get("onExitCodes"):
            cs = _exit_code_match(pod, rule["onExitCodes"])
            if cs is not None:
                code = cs["state"]["terminated"].get("exitCode")
                return action, (f"Container {cs.get('name')} for pod {who} failed with exit code {code} matching "
                                f"{action} rule at index {i}")
        elif rule.get("onPodConditions"):
            c = _condition_match(pod, rule["onPodConditions"])
            if c is not None:
                return action, f"Pod {who} has condition {c.get('type')} matching {action} rule at index {i}"
    return None
