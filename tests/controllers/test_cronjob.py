"""The CronJob controller through kubectl, and the schedule arithmetic on its own.

Schedules are ``@every 1s``/``2s`` so runs come quickly; Jobs are finished by
writing their status conditions (no Job controller runs here, the test plays it),
so the CronJob controller is the only thing creating or deleting Jobs. Negative
claims ("no second Job while one is active") are checked after an Event proves
the controller considered a later scheduled time and declined, never by sleeping.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from kubelite.api.client import resource_path
from kubelite.controllers.cronschedule import CronError, Schedule
from tests.controllers.conftest import ControllerHarness

CONTROLLERS = {"cronjob", "garbagecollector"}
Obj = dict[str, Any]


def cj_yaml(name: str, schedule: str = "@every 1s", **spec: Any) -> str:
    tmpl = {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
        {"name": "c", "image": "busybox", "command": ["true"]}]}}}}
    return json.dumps({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
                       "spec": {"schedule": schedule, "jobTemplate": tmpl, **spec}})


def jobs(h: ControllerHarness, ns: str, cj: str) -> list[Obj]:
    out = h.run(h.client.list(resource_path("batch/v1", "jobs", ns)))
    return sorted((j for j in out["items"] if j["metadata"]["name"].startswith(f"{cj}-")
                   and not j["metadata"].get("deletionTimestamp")), key=lambda j: j["metadata"]["name"])


def finish(h: ControllerHarness, ns: str, job: Obj, state: str = "Complete") -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status: Obj = {"conditions": [{"type": state, "status": "True", "lastTransitionTime": now}], "startTime": now}
    if state == "Complete":
        status["completionTime"] = now
        status["succeeded"] = 1
    h.run(h.client.patch(resource_path("batch/v1", "jobs", ns, job["metadata"]["name"], "status"),
                         {"status": status}))


def describe_has(h: ControllerHarness, ns: str, name: str, text: str) -> bool:
    return text in h.ok("-n", ns, "describe", "cronjob", name)


def test_kubectl_create_cronjob_makes_jobs(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "cronjob", "hello", "--image=busybox", "--schedule=@every 2s", "--", "true")
    job = h.wait_for(lambda: jobs(h, ns, "hello"), "a job")[0]
    cj = h.json("-n", ns, "get", "cronjob", "hello")
    ref = job["metadata"]["ownerReferences"][0]
    assert ref["kind"] == "CronJob" and ref["uid"] == cj["metadata"]["uid"] and ref["controller"]  # type: ignore[index]
    assert "batch.kubernetes.io/cronjob-scheduled-timestamp" in job["metadata"]["annotations"]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["true"]

    def active() -> Any:
        st = h.json("-n", ns, "get", "cronjob", "hello").get("status") or {}
        return st if st.get("active") and st.get("lastScheduleTime") else None  # type: ignore[union-attr]
    st = h.wait_for(active, "status.active and lastScheduleTime")
    assert job["metadata"]["name"] in {r["name"] for r in st["active"]}
    h.wait_for(lambda: describe_has(h, ns, "hello", "SuccessfulCreate"), "the SuccessfulCreate event")


def test_forbid_waits_for_the_active_job(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "-f", "-", input=cj_yaml("once", concurrencyPolicy="Forbid"))
    first = h.wait_for(lambda: jobs(h, ns, "once"), "the first job")[0]
    h.wait_for(lambda: describe_has(h, ns, "once", "JobAlreadyActive"), "a skipped run")
    assert [j["metadata"]["name"] for j in jobs(h, ns, "once")] == [first["metadata"]["name"]]
    finish(h, ns, first)
    h.wait_for(lambda: len(jobs(h, ns, "once")) >= 2, "the next job once the first completed")
    h.wait_for(lambda: describe_has(h, ns, "once", "SawCompletedJob"), "the SawCompletedJob event")
    st: Any = h.json("-n", ns, "get", "cronjob", "once")["status"]
    assert st.get("lastSuccessfulTime")


def test_replace_deletes_the_active_job(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "-f", "-", input=cj_yaml("swap", concurrencyPolicy="Replace"))
    first = h.wait_for(lambda: jobs(h, ns, "swap"), "the first job")[0]["metadata"]["name"]
    # one listing for both checks: with a schedule of every second, a second listing can fall between the
    # deletion of the next active job and the creation of its replacement
    after = h.wait_for(lambda: (names := [j["metadata"]["name"] for j in jobs(h, ns, "swap")]) and first not in names
                       and names, "the first job replaced")
    assert len(after) == 1, after


def test_history_limits(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "-f", "-", input=cj_yaml("hist", successfulJobsHistoryLimit=1,
                                                       failedJobsHistoryLimit=0))
    finished: set[str] = set()

    def finish_new() -> bool:
        for j in jobs(h, ns, "hist"):
            if j["metadata"]["name"] not in finished:
                finish(h, ns, j, "Complete" if len(finished) % 2 == 0 else "Failed")
                finished.add(j["metadata"]["name"])
        return len(finished) >= 4
    h.wait_for(finish_new, "four jobs finished")

    def trimmed() -> bool:
        left = jobs(h, ns, "hist")
        done = [j for j in left if any(c["type"] in ("Complete", "Failed")
                                       for c in (j.get("status") or {}).get("conditions") or [])]
        kinds = [c["type"] for j in done for c in j["status"]["conditions"]]
        return kinds.count("Complete") <= 1 and kinds.count("Failed") == 0
    h.wait_for(trimmed, "at most one successful and no failed job kept")
    h.wait_for(lambda: describe_has(h, ns, "hist", "SuccessfulDelete"), "the SuccessfulDelete event")


def test_suspend(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "-f", "-", input=cj_yaml("paused", suspend=True))
    h.ok("-n", ns, "create", "-f", "-", input=cj_yaml("running"))
    h.wait_for(lambda: len(jobs(h, ns, "running")) >= 2, "the unsuspended sibling ran twice")
    assert jobs(h, ns, "paused") == []
    h.ok("-n", ns, "patch", "cronjob", "paused", "-p", '{"spec":{"suspend":false}}')
    h.wait_for(lambda: jobs(h, ns, "paused"), "a job once resumed")


def test_kubectl_create_job_from_cronjob(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "-f", "-", input=cj_yaml("manual", schedule="0 0 1 1 *"))
    h.ok("-n", ns, "create", "job", "manual-now", "--from=cronjob/manual")
    h.wait_for(lambda: any(r["name"] == "manual-now" for r in
                           (h.json("-n", ns, "get", "cronjob", "manual").get("status") or {})  # type: ignore[union-attr]
                           .get("active") or []), "the manual job listed as active")
    h.ok("-n", ns, "delete", "cronjob", "manual")
    h.wait_for(lambda: "NotFound" in h.kubectl("-n", ns, "get", "job", "manual-now").stderr,
               "the manual job collected with its cronjob")


# --- the schedule arithmetic ---------------------------------------------------------------------------------

def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("expr", "after", "expected"), [
    ("* * * * *", "2026-03-01T10:15:30", "2026-03-01T10:16:00"),
    ("*/15 * * * *", "2026-03-01T10:15:00", "2026-03-01T10:30:00"),
    ("0 9-17/4 * * *", "2026-03-01T13:00:00", "2026-03-01T17:00:00"),
    ("@hourly", "2026-03-01T23:59:00", "2026-03-02T00:00:00"),
    ("0 0 1 * MON", "2026-03-02T00:00:00", "2026-03-09T00:00:00"),  # a Monday, or the 1st: either day matches
    ("0 0 1 * MON", "2026-03-30T00:00:00", "2026-04-01T00:00:00"),
    ("0 0 * * SUN", "2026-03-01T00:00:00", "2026-03-08T00:00:00"),  # dom "*": weekday alone decides
    ("30 4 29 2 *", "2026-03-01T00:00:00", "2028-02-29T04:30:00"),
    ("0 0 1 jan,jul *", "2026-02-01T00:00:00", "2026-07-01T00:00:00"),
])
def test_next_after(expr: str, after: str, expected: str) -> None:
    assert Schedule(expr).next_after(at(after)) == at(expected)


def test_time_zone_and_impossible_dates() -> None:
    s = Schedule("0 9 * * *", "America/New_York")
    assert s.next_after(at("2026-07-01T12:00:00")) == at("2026-07-01T13:00:00")  # 09:00 EDT
    assert s.next_after(at("2026-12-01T15:00:00")) == at("2026-12-02T14:00:00")  # 09:00 EST
    assert Schedule("0 0 30 2 *").next_after(at("2026-01-01T00:00:00")) is None
    with pytest.raises(CronError):
        Schedule("61 * * * *")
    with pytest.raises(CronError):
        Schedule("* * * * *", "Mars/Olympus")


def test_missed_runs() -> None:
    s = Schedule("*/10 * * * *")
    last, count = s.missed(at("2026-03-01T10:00:00"), at("2026-03-01T10:35:00"))
    assert (last, count) == (at("2026-03-01T10:30:00"), 3)
    last, count = Schedule("* * * * *").missed(at("2026-03-01T00:00:00"), at("2026-03-03T00:00:30"))
    assert last == at("2026-03-03T00:00:00") and count > 100
    every = Schedule("@every 90s")
    origin = at("2026-03-01T00:00:00")
    assert every.next_after(at("2026-03-01T00:02:00"), origin) == at("2026-03-01T00:03:00")
    assert every.missed(origin, at("2026-03-01T00:05:00"), origin) == (at("2026-03-01T00:04:30"), 3)


def test_missed_runs_start_only_the_latest(controllers: ControllerHarness, ns: str) -> None:
    """Hours of missed minutes (a controller that was down): one Job, for the latest, and a warning."""
    h = controllers
    h.ok("-n", ns, "create", "-f", "-", input=cj_yaml("late", schedule="* * * * *", suspend=True))
    past = datetime.fromtimestamp(datetime.now(UTC).timestamp() - 3 * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    h.run(h.client.patch(resource_path("batch/v1", "cronjobs", ns, "late", "status"),
                         {"status": {"lastScheduleTime": past}}))
    h.ok("-n", ns, "patch", "cronjob", "late", "-p", '{"spec":{"suspend":false}}')
    job = h.wait_for(lambda: jobs(h, ns, "late"), "a job")[0]
    stamp = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    scheduled = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert scheduled.second == 0 and datetime.now(UTC).timestamp() - scheduled.timestamp() < 180
    assert job["metadata"]["name"] == f"late-{int(scheduled.timestamp() // 60)}"
    h.wait_for(lambda: describe_has(h, ns, "late", "TooManyMissedTimes"), "the missed-times warning")
    assert len(jobs(h, ns, "late")) <= 2  # the latest, and at most the next minute's: never the backlog
