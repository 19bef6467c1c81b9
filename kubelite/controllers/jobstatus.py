"""What a Job's pods add up to: pure functions the Job controller calls, kept apart so they read as the rules.

The rules are kube 1.32's ``job_controller.go`` with the JobPodReplacementPolicy
and JobSuccessPolicy defaults of that release:

- A pod counts as failed when its phase is ``Failed``, or when it is being deleted
  and never succeeded (no pod failure policy exists here, so a terminating pod
  is a lost pod). It counts as succeeded when its phase is ``Succeeded``.
- A finished pod is counted once and for ever through the tracking finalizer
  ``batch.kubernetes.io/job-tracking``: its uid goes into
  ``status.uncountedTerminatedPods`` first, then the finalizer is removed, then
  the uid moves into ``succeeded``/``failed``. Each step is a write that survives a
  crash, so a pod is never lost nor counted twice even though it may vanish the
  moment its finalizer goes.
- A finishing Job first gets an interim condition (``SuccessCriteriaMet`` or
  ``FailureTarget``), its remaining pods are deleted, and only once none is left
  does it get the terminal one (``Complete`` or ``Failed``), same reason and message.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.meta import now_rfc3339

Obj = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETE, FAILED = "Complete", "Failed"
SUCCESS_CRITERIA_MET, FAILURE_TARGET = "SuccessCriteriaMet", "FailureTarget"
BACKOFF_LIMIT_EXCEEDED, DEADLINE_EXCEEDED, COMPLETIONS_REACHED = ("BackoffLimitExceeded", "DeadlineExceeded",
                                                                 "CompletionsReached")
MESSAGES = {BACKOFF_LIMIT_EXCEEDED: "Job has reached the specified backoff limit",
            DEADLINE_EXCEEDED: "Job was active longer than specified deadline",
            COMPLETIONS_REACHED: "Reached expected number of succeeded pods"}


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_succeeded(pod: Obj) -> bool:
    return phase(pod) == "Succeeded"


def is_failed(pod: Obj, strict: bool = False) -> bool:
    """Failed, or (unless ``strict``: only-replace-failed Jobs) being deleted without having succeeded."""
    if phase(pod) == "Failed":
        return True
    return not strict and bool(pod["metadata"].get("deletionTimestamp")) and not is_succeeded(pod)


def is_finished(pod: Obj, strict: bool = False) -> bool:
    return is_succeeded(pod) or is_failed(pod, strict)


def is_terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp")) and phase(pod) not in ("Succeeded", "Failed")


def has_tracking(pod: Obj) -> bool:
    return TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])


def condition(job: Obj, type_: str) -> Obj | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_ and c.get("status") == "True":
            found: Obj = c
            return found
    return None


def is_finished_job(job: Obj) -> bool:
    return condition(job, COMPLETE) is not None or condition(job, FAILED) is not None


def set_condition(status: Obj, type_: str, reason: str, message: str, state: str = "True") -> bool:
    """Set a condition (kube's ``ensureJobConditionStatus``); True when something changed."""
    conds: list[Obj] = status.setdefault("conditions", [])
    now = now_rfc3339()
    for c in conds:
        if c.get("type") == type_:
            if c.get("status") == state and c.get("reason") == reason and c.get("message") == message:
                return False
            if c.get("status") != state:
                c["lastTransitionTime"] = now
            c.update(status=state, reason=reason, message=message, lastProbeTime=now)
            return True
    if state != "True":
        return False  # kube adds no False condition that was never True
    conds.append({"type": type_, "status": state, "reason": reason, "message": message,
                  "lastProbeTime": now, "lastTransitionTime": now})
    return True


def restarts(pods: list[Obj]) -> int:
    """Container restarts of active pods: with ``restartPolicy: OnFailure`` they count toward the backoff limit."""
    total = 0
    for p in pods:
        for cs in [*((p.get("status") or {}).get("initContainerStatuses") or []),
                   *((p.get("status") or {}).get("containerStatuses") or [])]:
            total += int(cs.get("restartCount") or 0)
    return total


def want_active(spec: Obj, succeeded: int, active: int) -> int:
    """How many pods should run now (kube's ``manageJob`` arithmetic)."""
    parallelism = int(spec.get("parallelism") or 0)
    completions = spec.get("completions")
    if spec.get("suspend"):
        return 0
    if completions is None:
        # a work-queue Job: once one pod succeeded no new pods start, the running ones finish
        return min(active, parallelism) if succeeded > 0 else parallelism
    return max(0, min(parallelism, int(completions) - succeeded))


def backoff_delay(failures: int, base: float, cap: float) -> float:
    """Delay before replacing a failed pod: ``base`` doubling per consecutive failure, at most ``cap``."""
    if failures <= 0:
        return 0.0
    return float(min(base * 2 ** (failures - 1), cap))
