"""The CronJob controller: create a Job at each scheduled time, honour the concurrency policy, keep a bounded history.

kube's ``cronjob_controllerv2``, one sync per CronJob key:

1. the CronJob's Jobs (its controller ownerReference, found through the shared
   ``controller`` index) are reconciled with ``status.active``: finished ones
   leave it (``SawCompletedJob``), the last success sets ``lastSuccessfulTime``;
2. finished Jobs beyond ``successfulJobsHistoryLimit`` / ``failedJobsHistoryLimit``
   are deleted, oldest first, with Background propagation (the garbage collector
   takes their pods);
3. unless suspended, the most recent scheduled time since ``lastScheduleTime``
   (or creation) is run, unless it is older than ``startingDeadlineSeconds``; with
   ``Forbid`` it is skipped while a Job is active, with ``Replace`` the active Jobs
   are deleted first. The Job's name is ``<cronjob>-<scheduled minutes since the
   epoch>``, kube's, so a retried sync finds the Job it already made instead of
   making a second one;
4. the key is queued again for the next scheduled time.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from kubelite.api.client import resource_path
from kubelite.controllers.base import NORMAL, WARNING, Controller, ControllerContext
from kubelite.controllers.cronschedule import CronError, Schedule
from kubelite.controllers.informers import CONTROLLER_INDEX
from kubelite.controllers.jobstatus import COMPLETE, FAILED, condition
from kubelite.controllers.podcontrol import controller_of, controller_ref, parse_time
from kubelite.errors import AlreadyExists, NotFound

Obj = dict[str, Any]
CRONJOBS, JOBS = ("batch/v1", "cronjobs"), ("batch/v1", "jobs")
SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(stamp: str | None) -> datetime | None:
    t = parse_time(stamp)
    return datetime.fromtimestamp(t, UTC) if t is not None else None


def job_ref(job: Obj) -> Obj:
    md = job["metadata"]
    return {"apiVersion": "batch/v1", "kind": "Job", "name": md["name"], "namespace": md["namespace"],
            "uid": md["uid"], "resourceVersion": md.get("resourceVersion", "")}


def job_name(cj: Obj, scheduled: datetime, schedule: Schedule) -> str:
    """kube's ``<name>-<minutes since the epoch>``; seconds for ``@every`` under a minute, which kube would
    squeeze into one Job per minute."""
    unit = 1 if schedule.every is not None and schedule.every < 60 else 60
    return f"{cj['metadata']['name']}-{int(scheduled.timestamp() // unit)}"


def job_from_template(cj: Obj, name: str, scheduled: datetime) -> Obj:
    jt = (cj.get("spec") or {}).get("jobTemplate") or {}
    tmd = jt.get("metadata") or {}
    md: Obj = {"name": name,
               "namespace": cj["metadata"]["namespace"], "labels": dict(tmd.get("labels") or {}),
               "annotations": {**(tmd.get("annotations") or {}), SCHEDULED_ANNOTATION: _stamp(scheduled)},
               "ownerReferences": [controller_ref(cj)]}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": md, "spec": copy.deepcopy(jt.get("spec") or {})}


class CronJobController(Controller):
    name = "cronjob"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.cronjobs = ctx.informers.informer(*CRONJOBS)
        self.jobs = ctx.informers.informer(*JOBS)
        self.cronjobs.add_handler(lambda etype, cj, old: self.enqueue(cj))
        self.jobs.add_handler(self._on_job)

    def _on_job(self, etype: str, job: Obj, old: Obj | None) -> None:
        ref = controller_of(job)
        if ref is not None and ref.get("kind") == "CronJob":
            self.enqueue(f"{job['metadata']['namespace']}/{ref.get('name')}")

    async def sync(self, key: str) -> None:
        cj = self.cronjobs.get(key)
        if cj is None or cj["metadata"].get("deletionTimestamp"):
            return
        spec = cj.get("spec") or {}
        status = copy.deepcopy(cj.get("status") or {})
        children = self.jobs.by_index(CONTROLLER_INDEX, cj["metadata"]["uid"])
        self._reconcile_active(cj, status, children)
        await self._clean_history(cj, spec, children)
        now = datetime.now(UTC)
        try:
            schedule = Schedule(str(spec.get("schedule", "")), spec.get("timeZone"))
        except CronError as e:
            self.recorder.event(cj, WARNING, "UnparseableSchedule", f"unparseable schedule: {spec.get('schedule')!r}"
                                f" : {e}")
            await self._write_status(cj, status)
            return
        created = _when(cj["metadata"].get("creationTimestamp")) or now
        if not spec.get("suspend"):
            await self._run_due(cj, spec, status, schedule, created, now)
        await self._write_status(cj, status)
        if not spec.get("suspend"):
            nxt = schedule.next_after(now, origin=created)
            if nxt is not None:
                self.enqueue_after(key, max(0.0, (nxt - datetime.now(UTC)).total_seconds()) + 0.1)

    # --- children ----------------------------------------------------------------------------------------

    def _reconcile_active(self, cj: Obj, status: Obj, children: list[Obj]) -> None:
        by_uid = {j["metadata"]["uid"]: j for j in children}
        active: list[Obj] = []
        for ref in status.get("active") or []:
            job = by_uid.get(ref.get("uid"))
            if job is None:
                continue  # deleted by someone: no longer active
            if condition(job, COMPLETE) or condition(job, FAILED):
                state = "Complete" if condition(job, COMPLETE) else "Failed"
                self.recorder.event(cj, NORMAL, "SawCompletedJob",
                                    f"Saw completed job: {job['metadata']['name']}, condition: {state}")
                continue
            active.append(ref)
        known = {r.get("uid") for r in active}
        for job in children:  # a Job we made but whose ref a failed status write lost, or `create job --from`
            if job["metadata"]["uid"] not in known and not (condition(job, COMPLETE) or condition(job, FAILED)):
                active.append(job_ref(job))
        for job in children:
            done = (job.get("status") or {}).get("completionTime")
            if condition(job, COMPLETE) and done and (not status.get("lastSuccessfulTime")
                                                      or done > status["lastSuccessfulTime"]):
                status["lastSuccessfulTime"] = done
        if active:
            status["active"] = active
        else:
            status.pop("active", None)

    async def _clean_history(self, cj: Obj, spec: Obj, children: list[Obj]) -> None:
        for state, limit_key in ((COMPLETE, "successfulJobsHistoryLimit"), (FAILED, "failedJobsHistoryLimit")):
            limit = spec.get(limit_key)
            if limit is None:
                continue
            finished = [j for j in children if condition(j, state) and not j["metadata"].get("deletionTimestamp")]
            finished.sort(key=lambda j: ((j.get("status") or {}).get("startTime") or "",
                                         j["metadata"].get("creationTimestamp") or ""))
            for job in finished[:max(0, len(finished) - int(limit))]:
                await self._delete_job(cj, job)

    async def _delete_job(self, cj: Obj, job: Obj) -> None:
        md = job["metadata"]
        try:
            await self.client.delete(resource_path(*JOBS, md["namespace"], md["name"]),
                                     {"propagationPolicy": "Background", "preconditions": {"uid": md["uid"]}})
        except NotFound:
            return
        self.recorder.event(cj, NORMAL, "SuccessfulDelete", f"Deleted job {md['name']}")

    # --- running -----------------------------------------------------------------------------------------

    async def _run_due(self, cj: Obj, spec: Obj, status: Obj, schedule: Schedule, created: datetime,
                       now: datetime) -> None:
        earliest = _when(status.get("lastScheduleTime")) or created
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, now - timedelta(seconds=int(deadline)))
        scheduled, missed = schedule.missed(earliest, now, origin=created)
        if scheduled is None:
            return
        if missed > 100:
            self.recorder.event(cj, WARNING, "TooManyMissedTimes",
                                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or "
                                "check clock skew")
        if deadline is not None and scheduled + timedelta(seconds=int(deadline)) < now:
            self.recorder.event(cj, WARNING, "MissSchedule", f"Missed scheduled time to start a job: "
                                f"{_stamp(scheduled)}")
            return
        policy = spec.get("concurrencyPolicy") or "Allow"
        if status.get("active") and policy == "Forbid":
            self.recorder.event(cj, NORMAL, "JobAlreadyActive",
                                "Not starting job because prior execution is running and concurrency policy is "
                                "Forbid")
            return
        if status.get("active") and policy == "Replace":
            for ref in list(status["active"]):
                job = self.jobs.get(f"{ref.get('namespace')}/{ref.get('name')}")
                if job is not None:
                    await self._delete_job(cj, job)
            status.pop("active", None)
        body = job_from_template(cj, job_name(cj, scheduled, schedule), scheduled)
        path = resource_path(*JOBS, cj["metadata"]["namespace"])
        try:
            job = await self.client.create(path, body)
            self.recorder.event(cj, NORMAL, "SuccessfulCreate", f"Created job {job['metadata']['name']}")
        except AlreadyExists:
            job = await self.client.get(resource_path(*JOBS, cj["metadata"]["namespace"], body["metadata"]["name"]))
            if (controller_of(job) or {}).get("uid") != cj["metadata"]["uid"]:
                self.recorder.event(cj, WARNING, "FailedCreate", f"Error creating job: job "
                                    f"{body['metadata']['name']} exists and is not ours")
                status["lastScheduleTime"] = _stamp(scheduled)
                return
        if job["metadata"]["uid"] not in {r.get("uid") for r in status.get("active") or []} and \
                not (condition(job, COMPLETE) or condition(job, FAILED)):
            status.setdefault("active", []).append(job_ref(job))
        status["lastScheduleTime"] = _stamp(scheduled)

    async def _write_status(self, cj: Obj, status: Obj) -> None:
        if (cj.get("status") or {}) == status:
            return
        md = cj["metadata"]
        await self.client.replace(resource_path(*CRONJOBS, md["namespace"], md["name"], "status"),
                                  {**cj, "status": status})

