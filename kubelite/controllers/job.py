"""The Job controller: run pods until ``completions`` succeed, give up after ``backoffLimit`` failures or the deadline.

One sync per Job key, level-triggered (the counting rules are in
:mod:`kubelite.controllers.jobstatus`):

1. a finished Job only lets go of its pods (tracking finalizers) and, with
   ``ttlSecondsAfterFinished``, deletes itself once that time has passed
   (:mod:`kubelite.controllers.jobttl`, kube's ttl-after-finished controller folded in);
2. finished pods are counted through ``uncountedTerminatedPods`` and the tracking
   finalizer, in three writes, so a pod is counted exactly once;
3. the backoff limit (failed pods, plus container restarts under ``OnFailure``)
   and ``activeDeadlineSeconds`` turn into ``FailureTarget``, enough successes into
   ``SuccessCriteriaMet``; then the remaining pods are deleted and, once none is
   left, the terminal ``Failed``/``Complete`` condition and ``completionTime``;
4. otherwise the number of active pods is brought to what parallelism and the
   remaining completions ask for. Replacements for failed pods wait an
   exponential back-off (``job_backoff_base`` doubling, as kube's 10 s), and
   :class:`ControllerExpectations` keeps a burst of creates from being doubled.

A pod whose Job is gone still carries the tracking finalizer; the pod handler
queues it under ``pod:<ns>/<name>`` and the sync removes the finalizer so the
garbage collector's deletion can finish.
"""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

from kubelite.api.client import resource_path
from kubelite.api.informer import object_key
from kubelite.api.meta import now_rfc3339
from kubelite.controllers import jobpolicy, jobttl
from kubelite.controllers.base import NORMAL, WARNING, Controller, ControllerContext
from kubelite.controllers.expectations import ControllerExpectations
from kubelite.controllers.informers import CONTROLLER_INDEX
from kubelite.controllers.jobindexed import (
    format_intervals,
    is_indexed,
    parse_intervals,
    plan,
    pod_index,
    template_for,
)
from kubelite.controllers.jobpolicy import only_replace_failed
from kubelite.controllers.jobstatus import (
    BACKOFF_LIMIT_EXCEEDED,
    COMPLETE,
    COMPLETIONS_REACHED,
    DEADLINE_EXCEEDED,
    FAILED,
    FAILURE_TARGET,
    MESSAGES,
    SUCCESS_CRITERIA_MET,
    TRACKING_FINALIZER,
    backoff_delay,
    condition,
    has_tracking,
    is_finished,
    is_finished_job,
    is_succeeded,
    is_terminating,
    restarts,
    set_condition,
    want_active,
)
from kubelite.controllers.podcontrol import (
    PodControl,
    controller_of,
    deletion_rank,
    is_pod_ready,
    parse_time,
    pod_from_template,
)
from kubelite.errors import KubeliteError, NotFound

Obj = dict[str, Any]
JOBS = ("batch/v1", "jobs")


class JobController(Controller):
    name = "job"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.jobs = ctx.informers.informer(*JOBS)
        self.pods = ctx.informers.pods()
        self.expectations = ControllerExpectations()
        self.pod_control = PodControl(self.client, self.recorder)
        # job uid -> (consecutive failures, monotonic time of the last one): the replacement back-off
        self.failures: dict[str, tuple[int, float]] = {}
        self.jobs.add_handler(self._on_job)
        self.pods.add_handler(self._on_pod)

    # --- handlers ----------------------------------------------------------------------------------------

    def _on_job(self, etype: str, job: Obj, old: Obj | None) -> None:
        if etype == "DELETED":
            self.expectations.forget(object_key(job))
            self.failures.pop(job["metadata"].get("uid", ""), None)
        self.enqueue(job)

    def _job_of(self, pod: Obj) -> Obj | None:
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "Job":
            return None
        job = self.jobs.get(f"{pod['metadata']['namespace']}/{ref.get('name')}")
        return job if job is not None and job["metadata"].get("uid") == ref.get("uid") else None

    def _on_pod(self, etype: str, pod: Obj, old: Obj | None) -> None:
        job = self._job_of(pod)
        if job is None:
            ref = controller_of(pod)
            if etype != "DELETED" and has_tracking(pod) and (ref is None or ref.get("kind") == "Job"):
                self.enqueue(f"pod:{object_key(pod)}")  # an orphan still held by our finalizer
            return
        key = object_key(job)
        if etype == "ADDED" and old is None:
            self.expectations.creation_observed(key)
        elif etype == "DELETED" or (pod["metadata"].get("deletionTimestamp")
                                    and not (old or {}).get("metadata", {}).get("deletionTimestamp")):
            self.expectations.deletion_observed(key, object_key(pod))
        self.enqueue(key)

    # --- sync --------------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        if key.startswith("pod:"):
            await self._release_orphan(key[4:])
            return
        job = self.jobs.get(key)
        if job is None:
            self.expectations.forget(key)
            return
        md = job["metadata"]
        spec = job.get("spec") or {}
        # pods terminate as failures only once Failed (pod failure policy), unless the Job is already finishing:
        # then whatever is being removed counts at once, as kube does, or it would wait for a kubelet
        strict = only_replace_failed(spec) and not (condition(job, FAILURE_TARGET) or
                                                     condition(job, SUCCESS_CRITERIA_MET))
        pods = self.pods.by_index(CONTROLLER_INDEX, md["uid"])
        if md.get("deletionTimestamp"):
            await self._remove_finalizers([p for p in pods if has_tracking(p)])
            return
        if is_finished_job(job):
            await self._remove_finalizers([p for p in pods if has_tracking(p)])
            left = await jobttl.expire(self.client, job)
            if left is not None:
                self.enqueue_after(job, left + 0.05)
            return
        status = copy.deepcopy(job.get("status") or {})
        self._suspension(job, status, spec)
        job = await self._count(job, status, pods, strict)
        active = [p for p in pods if not is_finished(p, strict)]
        succeeded, failed = int(status.get("succeeded") or 0), int(status.get("failed") or 0)
        uncounted = status.get("uncountedTerminatedPods") or {}
        succeeded += len(uncounted.get("succeeded") or [])
        failed += len(uncounted.get("failed") or [])
        if is_indexed(spec):
            succeeded = self._completed_indexes(spec, status, pods)
        self._interim_condition(job, status, spec, active, succeeded, failed)
        finishing = condition({"status": status}, FAILURE_TARGET) or condition({"status": status},
                                                                               SUCCESS_CRITERIA_MET)
        if finishing:
            await self._delete_pods(job, active)
            if not any(p for p in pods if not is_finished(p, strict) or is_terminating(p) or has_tracking(p)):
                self._finish(job, status, finishing)
        elif self.expectations.satisfied(key):
            await self._manage(job, spec, status, active, succeeded)
        status["active"] = sum(1 for p in active if not is_terminating(p))
        status["ready"] = sum(1 for p in active if is_pod_ready(p) and not is_terminating(p))
        status["terminating"] = sum(1 for p in pods if is_terminating(p))
        status.setdefault("uncountedTerminatedPods", {})
        await self._write_status(job, status)
        self._schedule_deadline(job, status)

    # --- counting finished pods ---------------------------------------------------------------------------

    async def _count(self, job: Obj, status: Obj, pods: list[Obj], strict: bool) -> Obj:
        """Count finished pods into ``status``; returns the Job as last written."""
        uncounted = status.setdefault("uncountedTerminatedPods", {})
        known = set(uncounted.get("succeeded") or []) | set(uncounted.get("failed") or [])
        fresh = [p for p in pods if has_tracking(p) and is_finished(p, strict) and p["metadata"]["uid"] not in known]
        for p in fresh:
            if not is_succeeded(p) and self._judge_failure(job, status, p) == "Ignore":
                continue  # the pod failure policy says this failure does not count
            uncounted.setdefault("succeeded" if is_succeeded(p) else "failed", []).append(p["metadata"]["uid"])
        if fresh:
            job = await self._write_status(job, status)  # step 1: remember them before letting go
        await self._remove_finalizers([p for p in pods if has_tracking(p) and is_finished(p, strict)])  # step 2
        still_held = {p["metadata"]["uid"] for p in pods if has_tracking(p) and not is_finished(p, strict)}
        new_failures = 0
        for kind in ("succeeded", "failed"):  # step 3: move them into the counters (written by the caller)
            uids = [u for u in uncounted.get(kind) or [] if u not in still_held]
            status[kind] = int(status.get(kind) or 0) + len(uids)
            if kind == "failed":
                new_failures = len(uids)
            uncounted.pop(kind, None)
        uid = job["metadata"]["uid"]
        if new_failures:
            count, _ = self.failures.get(uid, (0, 0.0))
            self.failures[uid] = (count + new_failures, time.monotonic())
        elif any(is_succeeded(p) for p in pods):
            self.failures.pop(uid, None)
        return job

    def _judge_failure(self, job: Obj, status: Obj, pod: Obj) -> str:
        """The pod failure policy's action for a failed pod (``Count`` without a policy); ``FailJob`` sets
        ``FailureTarget`` here, before the pod is counted."""
        spec = job.get("spec") or {}
        found = jobpolicy.match(spec, pod) if spec.get("podFailurePolicy") else None
        if found is None:
            return "Count"
        action, message = found
        if action == "FailJob" and not condition({"status": status}, FAILURE_TARGET):
            set_condition(status, FAILURE_TARGET, jobpolicy.POD_FAILURE_POLICY, message)
            self.recorder.event(job, WARNING, jobpolicy.POD_FAILURE_POLICY, message)
        return action

    async def _remove_finalizers(self, pods: list[Obj]) -> None:
        async def one(p: Obj) -> None:
            md = p["metadata"]
            rest = [f for f in md.get("finalizers") or [] if f != TRACKING_FINALIZER]
            try:
                await self.client.patch(resource_path("v1", "pods", md["namespace"], md["name"]),
                                        {"metadata": {"finalizers": rest or None, "resourceVersion":
                                                      md["resourceVersion"]}})
            except NotFound:
                pass
        results = await asyncio.gather(*(one(p) for p in pods), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r

    async def _release_orphan(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is not None and has_tracking(pod) and self._job_of(pod) is None:
            await self._remove_finalizers([pod])

    # --- conditions --------------------------------------------------------------------------------------

    def _suspension(self, job: Obj, status: Obj, spec: Obj) -> None:
        """``spec.suspend``: the Suspended condition, and a fresh ``startTime`` (so a fresh deadline) on resume."""
        suspended = condition({"status": status}, "Suspended") is not None
        if spec.get("suspend"):
            if not suspended:
                set_condition(status, "Suspended", "JobSuspended", "Job suspended")
                self.recorder.event(job, NORMAL, "Suspended", "Job suspended")
            return
        if suspended:
            set_condition(status, "Suspended", "JobResumed", "Job resumed", "False")
            self.recorder.event(job, NORMAL, "Resumed", "Job resumed")
            status["startTime"] = now_rfc3339()
        elif not status.get("startTime"):
            status["startTime"] = now_rfc3339()

    def _interim_condition(self, job: Obj, status: Obj, spec: Obj, active: list[Obj], succeeded: int,
                           failed: int) -> None:
        if condition({"status": status}, FAILURE_TARGET) or condition({"status": status}, SUCCESS_CRITERIA_MET):
            return
        limit = int(spec.get("backoffLimit", 6) or 0)
        policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
        # kube's pastBackoffLimitOnFailure: under OnFailure the kubelet restarts containers in place, so their
        # restarts are the failures (at least ``limit`` of them, or any with a limit of 0)
        restarted = restarts(active) if policy == "OnFailure" else 0
        completions = spec.get("completions")
        reason = ""
        if failed > limit or (restarted > 0 and restarted >= max(limit, 1)):
            reason = BACKOFF_LIMIT_EXCEEDED
        elif self._past_deadline(spec, status):
            reason = DEADLINE_EXCEEDED
        if reason:
            set_condition(status, FAILURE_TARGET, reason, MESSAGES[reason])
            self.recorder.event(job, WARNING, reason, MESSAGES[reason])
            return
        done = (succeeded >= int(completions) if completions is not None
                else succeeded > 0 and not [p for p in active if not is_terminating(p)])
        if done:
            set_condition(status, SUCCESS_CRITERIA_MET, COMPLETIONS_REACHED, MESSAGES[COMPLETIONS_REACHED])

    def _finish(self, job: Obj, status: Obj, interim: Obj) -> None:
        if interim["type"] == FAILURE_TARGET:
            set_condition(status, FAILED, interim["reason"], interim["message"])
        else:
            set_condition(status, COMPLETE, interim["reason"], interim["message"])
            status["completionTime"] = now_rfc3339()
            self.recorder.event(job, NORMAL, "Completed", "Job completed")

    @staticmethod
    def _past_deadline(spec: Obj, status: Obj) -> bool:
        deadline, start = spec.get("activeDeadlineSeconds"), parse_time(status.get("startTime"))
        return not spec.get("suspend") and deadline is not None and start is not None and time.time() >= start + int(deadline)

    def _schedule_deadline(self, job: Obj, status: Obj) -> None:
        deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
        start = parse_time(status.get("startTime"))
        if deadline is not None and start is not None and not is_finished_job({"status": status}) and \
                not (job.get("spec") or {}).get("suspend"):
            self.enqueue_after(job, max(0.0, start + int(deadline) - time.time()) + 0.05)

    # --- pods --------------------------------------------------------------------------------------------

    @staticmethod
    def _completed_indexes(spec: Obj, status: Obj, pods: list[Obj]) -> int:
        """Indexed Jobs: fold succeeded pods into ``completedIndexes``; ``succeeded`` is their number."""
        completions = int(spec.get("completions") or 0)
        done = parse_intervals(status.get("completedIndexes"))
        done |= {i for p in pods if is_succeeded(p) and (i := pod_index(p, completions)) is not None}
        status["completedIndexes"] = format_intervals(done)
        status["succeeded"] = len(done)
        return len(done)

    async def _manage(self, job: Obj, spec: Obj, status: Obj, active: list[Obj], succeeded: int) -> None:
        key = object_key(job)
        running = [p for p in active if not is_terminating(p)]
        indexes: list[int] = []
        if is_indexed(spec) and not spec.get("suspend"):
            # the indexes this sync counted (status), from the same snapshot of pods as ``running``
            done = parse_intervals(status.get("completedIndexes"))
            occupied = active if only_replace_failed(spec) else running
            indexes, victims = plan(int(spec.get("completions") or 0), int(spec.get("parallelism") or 0), done,
                                    occupied)
            victims = [p for p in victims if not is_terminating(p)]
        else:
            want = want_active(spec, succeeded, len(running))
            if only_replace_failed(spec):  # a terminating pod is replaced once it has failed, not before
                want = max(0, want - sum(1 for p in active if is_terminating(p)))
            now = time.time()
            victims = sorted(running, key=lambda p: deletion_rank(p, now))[:max(0, len(running) - want)]
            indexes = list(range(max(0, want - len(running))))
        if victims:
            self.expectations.expect_deletions(key, [object_key(p) for p in victims])
            await self._delete_pods(job, victims)
            return
        missing = len(indexes)
        if missing <= 0:
            return
        count, last = self.failures.get(job["metadata"]["uid"], (0, 0.0))
        wait = last + backoff_delay(count, self.options.job_backoff_base, self.options.job_backoff_max) \
            - time.monotonic()
        if wait > 0:
            self.enqueue_after(key, wait)
            return
        template = copy.deepcopy(spec.get("template") or {})
        tmd = template.setdefault("metadata", {})
        tmd["finalizers"] = [*(tmd.get("finalizers") or []), TRACKING_FINALIZER]
        self.expectations.expect_creations(key, missing)
        if is_indexed(spec):
            creates = [self._create_indexed(template, job, i) for i in indexes]
        else:
            creates = [self.pod_control.create_pod(template, job) for _ in indexes]
        results = await asyncio.gather(*creates, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            self.expectations.lower(key, adds=len(errors))
            raise errors[0]

    async def _create_indexed(self, template: Obj, job: Obj, index: int) -> Obj:
        """PodControl's create, with the index in the template and kube's ``<job>-<index>-`` name prefix."""
        pod = pod_from_template(template_for(template, job["metadata"]["name"], index), job)
        pod["metadata"]["generateName"] = f"{job['metadata']['name']}-{index}-"
        try:
            out: Obj = await self.client.create(resource_path("v1", "pods", job["metadata"]["namespace"]), pod)
        except KubeliteError as e:
            self.recorder.event(job, WARNING, "FailedCreate", f"Error creating: {e}")
            raise
        self.recorder.event(job, NORMAL, "SuccessfulCreate", f"Created pod: {out['metadata']['name']}")
        return out

    async def _delete_pods(self, job: Obj, pods: list[Obj]) -> None:
        async def one(p: Obj) -> None:
            if p["metadata"].get("deletionTimestamp"):
                return
            try:
                await self.pod_control.delete_pod(p["metadata"]["namespace"], p["metadata"]["name"], job)
            except NotFound:
                self.expectations.deletion_observed(object_key(job), object_key(p))
        results = await asyncio.gather(*(one(p) for p in pods), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r

    # --- status ----------------------------------------------------------------------------------

    async def _write_status(self, job: Obj, status: Obj) -> Obj:
        if job.get("status") == status:
            return job
        md = job["metadata"]
        path = resource_path(*JOBS, md["namespace"], md["name"], "status")
        out: Obj = await self.client.replace(path, {**job, "status": status})
        return out
