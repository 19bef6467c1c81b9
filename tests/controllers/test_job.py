"""The Job controller through kubectl: pods, counting, completion, backoff limit, deadline, TTL, cascading delete.

No node agent runs: the tests play the kubelet by writing pods' phase through
``pods/status`` (:func:`finish`). The replacement back-off is shortened so a
failing Job does not take kube's 10 s per failure.
"""

from __future__ import annotations

import json
from typing import Any

from kubelite.api.client import resource_path
from kubelite.controllers.options import ControllerOptions
from tests.controllers.conftest import ControllerHarness

CONTROLLERS = {"job", "garbagecollector"}
CONTROLLER_OPTIONS = ControllerOptions(job_backoff_base=0.2, job_backoff_max=1.0)
Obj = dict[str, Any]


def job_yaml(name: str, **spec: Any) -> str:
    tmpl = {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}
    return json.dumps({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
                       "spec": {"template": tmpl, **spec}})


def job_pods(h: ControllerHarness, ns: str, name: str) -> list[Obj]:
    return h.pods(ns, f"batch.kubernetes.io/job-name={name}")


def live(pods: list[Obj]) -> list[Obj]:
    return [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and not p["metadata"].get("deletionTimestamp")]


def finish(h: ControllerHarness, ns: str, pod: Obj, phase: str) -> None:
    h.run(h.client.patch(resource_path("v1", "pods", ns, pod["metadata"]["name"], "status"),
                         {"status": {"phase": phase}}))


def job(h: ControllerHarness, ns: str, name: str) -> Obj:
    return h.json("-n", ns, "get", "job", name)


def conditions(j: Obj) -> dict[str, str]:
    return {c["type"]: c["reason"] for c in (j.get("status") or {}).get("conditions") or []
            if c["status"] == "True"}


def test_kubectl_create_job_runs_to_completion(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "job", "hello", "--image=busybox", "--", "true")
    pods = h.wait_for(lambda: job_pods(h, ns, "hello"), "the job's pod")
    assert len(pods) == 1
    md = pods[0]["metadata"]
    j = job(h, ns, "hello")
    uid = j["metadata"]["uid"]
    assert md["labels"]["job-name"] == md["labels"]["batch.kubernetes.io/job-name"] == "hello"
    assert md["labels"]["controller-uid"] == md["labels"]["batch.kubernetes.io/controller-uid"] == uid
    assert md["finalizers"] == ["batch.kubernetes.io/job-tracking"]
    assert md["ownerReferences"][0]["uid"] == uid and md["ownerReferences"][0]["controller"] is True
    h.wait_for(lambda: job(h, ns, "hello").get("status", {}).get("active") == 1, "status.active 1")
    assert job(h, ns, "hello")["status"].get("startTime")
    finish(h, ns, pods[0], "Succeeded")
    h.ok("-n", ns, "wait", "--for=condition=complete", "job/hello", "--timeout=30s")
    j = job(h, ns, "hello")
    assert conditions(j) == {"SuccessCriteriaMet": "CompletionsReached", "Complete": "CompletionsReached"}
    assert j["status"]["succeeded"] == 1 and j["status"]["active"] == 0 and j["status"].get("completionTime")
    assert j["status"]["uncountedTerminatedPods"] == {}
    h.wait_for(lambda: not job_pods(h, ns, "hello")[0]["metadata"].get("finalizers"), "tracking finalizer gone")
    out = h.wait_for(lambda: (o := h.ok("-n", ns, "describe", "job", "hello")) and "Completed" in o and o,
                     "events in describe")
    assert "SuccessfulCreate" in out and "Created pod: hello-" in out
    assert "Complete" in h.ok("-n", ns, "get", "job", "hello")


def test_completions_and_parallelism(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "-f", "-", input=job_yaml("par", completions=3, parallelism=2))
    seen: set[str] = set()
    for done in range(3):
        running = h.wait_for(lambda: live(job_pods(h, ns, "par")), "running pods")
        want = min(2, 3 - done)
        h.wait_for(lambda w=want: len(live(job_pods(h, ns, "par"))) == w, f"{want} running pods")  # type: ignore[misc]
        running = live(job_pods(h, ns, "par"))
        seen.update(p["metadata"]["name"] for p in running)
        finish(h, ns, running[0], "Succeeded")
        h.wait_for(lambda d=done: job(h, ns, "par").get("status", {}).get("succeeded") == d + 1,  # type: ignore[misc]
                   f"{done + 1} succeeded")
    h.ok("-n", ns, "wait", "--for=condition=complete", "job/par", "--timeout=30s")
    assert len(job_pods(h, ns, "par")) == 3 == len(seen)
    assert "3/3" in h.ok("-n", ns, "get", "job", "par")


def test_backoff_limit(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "-f", "-", input=job_yaml("flaky", backoffLimit=1))
    for attempt in range(2):
        pod = h.wait_for(lambda: live(job_pods(h, ns, "flaky")), f"attempt {attempt + 1}")[0]
        finish(h, ns, pod, "Failed")
        h.wait_for(lambda a=attempt: job(h, ns, "flaky").get("status", {}).get("failed") == a + 1,  # type: ignore[misc]
                   f"{attempt + 1} failed")
    h.ok("-n", ns, "wait", "--for=condition=failed", "job/flaky", "--timeout=30s")
    j = job(h, ns, "flaky")
    assert conditions(j) == {"FailureTarget": "BackoffLimitExceeded", "Failed": "BackoffLimitExceeded"}
    assert j["status"]["failed"] == 2 and len(job_pods(h, ns, "flaky")) == 2
    assert "completionTime" not in j["status"]
    out = h.wait_for(lambda: (o := h.ok("-n", ns, "describe", "job", "flaky")) and "BackoffLimitExceeded" in o,
                     "event in describe")
    assert out


def test_active_deadline(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "-f", "-", input=job_yaml("slow", activeDeadlineSeconds=1, parallelism=2,
                                                        completions=4))
    h.ok("-n", ns, "wait", "--for=condition=failed", "job/slow", "--timeout=30s")
    j = job(h, ns, "slow")
    assert conditions(j)["Failed"] == "DeadlineExceeded"
    assert j["status"]["active"] == 0
    h.wait_for(lambda: not job_pods(h, ns, "slow"), "the running pods deleted")


def test_ttl_after_finished_deletes_job_and_pods(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "-f", "-", input=job_yaml("brief", ttlSecondsAfterFinished=1))
    pod = h.wait_for(lambda: job_pods(h, ns, "brief"), "the pod")[0]
    finish(h, ns, pod, "Succeeded")
    h.wait_for(lambda: "NotFound" in h.kubectl("-n", ns, "get", "job", "brief").stderr, "the job deleted")
    h.wait_for(lambda: not job_pods(h, ns, "brief"), "its pod collected")


def test_delete_job_cascades(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "-f", "-", input=job_yaml("bg", parallelism=2, completions=2))
    h.wait_for(lambda: len(job_pods(h, ns, "bg")) == 2, "two pods")
    h.ok("-n", ns, "delete", "job", "bg")
    h.wait_for(lambda: not job_pods(h, ns, "bg"), "pods deleted (tracking finalizers released)")
    h.ok("-n", ns, "create", "-f", "-", input=job_yaml("kept"))
    h.wait_for(lambda: job_pods(h, ns, "kept"), "its pod")
    h.ok("-n", ns, "delete", "job", "kept", "--cascade=orphan")
    pods = job_pods(h, ns, "kept")
    assert len(pods) == 1
    h.wait_for(lambda: not job_pods(h, ns, "kept")[0]["metadata"].get("finalizers"), "orphan released")
    assert not job_pods(h, ns, "kept")[0]["metadata"].get("ownerReferences")


def test_suspend_and_resume(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "-f", "-", input=job_yaml("nap", parallelism=2, completions=2))
    h.wait_for(lambda: len(live(job_pods(h, ns, "nap"))) == 2, "two running pods")
    h.ok("-n", ns, "patch", "job", "nap", "--type=merge", "-p", '{"spec":{"suspend":true}}')
    h.wait_for(lambda: conditions(job(h, ns, "nap")).get("Suspended") == "JobSuspended", "Suspended")
    h.wait_for(lambda: not live(job_pods(h, ns, "nap")), "its pods deleted")
    assert job(h, ns, "nap")["status"]["active"] == 0
    assert "Suspended" in h.ok("-n", ns, "get", "job", "nap")
    h.ok("-n", ns, "patch", "job", "nap", "--type=merge", "-p", '{"spec":{"suspend":false}}')
    h.wait_for(lambda: len(live(job_pods(h, ns, "nap"))) == 2, "two pods again")
    cond = next(c for c in job(h, ns, "nap")["status"]["conditions"] if c["type"] == "Suspended")
    assert cond["status"] == "False" and cond["reason"] == "JobResumed"
    h.wait_for(lambda: (o := h.ok("-n", ns, "describe", "job", "nap")) and "Resumed" in o and "Suspended" in o,
               "events in describe")


def index_of(pod: Obj) -> int:
    return int(pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"])


def test_indexed_completion(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "-f", "-", input=job_yaml("idx", completions=3, parallelism=2,
                                                        completionMode="Indexed"))
    h.wait_for(lambda: len(live(job_pods(h, ns, "idx"))) == 2, "two pods")
    pods = {index_of(p): p for p in live(job_pods(h, ns, "idx"))}
    assert set(pods) == {0, 1}
    p0 = pods[0]
    assert p0["metadata"]["name"].startswith("idx-0-") and p0["spec"]["hostname"] == "idx-0"
    assert p0["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == "0"
    env = next(e for e in p0["spec"]["containers"][0]["env"] if e["name"] == "JOB_COMPLETION_INDEX")
    assert env["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    finish(h, ns, pods[1], "Succeeded")
    h.wait_for(lambda: {index_of(p) for p in live(job_pods(h, ns, "idx"))} == {0, 2}, "index 2 started")
    assert job(h, ns, "idx")["status"].get("completedIndexes") == "1"
    finish(h, ns, pods[0], "Failed")  # a failed index is retried under the same index
    h.wait_for(lambda: sorted(index_of(p) for p in live(job_pods(h, ns, "idx"))) == [0, 2], "index 0 again")
    for p in live(job_pods(h, ns, "idx")):
        finish(h, ns, p, "Succeeded")
    h.ok("-n", ns, "wait", "--for=condition=complete", "job/idx", "--timeout=30s")
    st = job(h, ns, "idx")["status"]
    assert st["completedIndexes"] == "0-2" and st["succeeded"] == 3 and st["failed"] == 1


def test_foreground_delete_of_a_job(controllers: ControllerHarness, ns: str) -> None:
    """The pods' tracking finalizers are lifted for a Job being deleted, so a foreground delete can finish."""
    h = controllers
    h.ok("-n", ns, "create", "-f", "-", input=job_yaml("fg", parallelism=2, completions=2))
    h.wait_for(lambda: len(job_pods(h, ns, "fg")) == 2, "two pods")
    h.ok("-n", ns, "delete", "job", "fg", "--cascade=foreground")
    assert "NotFound" in h.kubectl("-n", ns, "get", "job", "fg").stderr
    h.wait_for(lambda: not job_pods(h, ns, "fg"), "pods gone")


def test_container_restarts_count_under_on_failure(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    body = json.loads(job_yaml("restarts", backoffLimit=2))
    body["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    h.ok("-n", ns, "create", "-f", "-", input=json.dumps(body))
    pod = h.wait_for(lambda: job_pods(h, ns, "restarts"), "the pod")[0]

    def restarted(n: int) -> None:
        h.run(h.client.patch(resource_path("v1", "pods", ns, pod["metadata"]["name"], "status"), {"status": {
            "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "", "ready": True,
                                   "restartCount": n, "state": {"running": {}}}]}}))
    restarted(1)
    # status.ready shows the controller has seen the pod with its one restart, and did not give up
    h.wait_for(lambda: job(h, ns, "restarts")["status"].get("ready") == 1, "the restarted pod counted ready")
    assert not conditions(job(h, ns, "restarts"))
    restarted(2)
    h.ok("-n", ns, "wait", "--for=condition=failed", "job/restarts", "--timeout=30s")
    assert conditions(job(h, ns, "restarts"))["Failed"] == "BackoffLimitExceeded"
    h.wait_for(lambda: not live(job_pods(h, ns, "restarts")), "the restarting pod deleted")


def fail_with(h: ControllerHarness, ns: str, pod: Obj, code: int, conditions: list[Obj] | None = None) -> None:
    status: Obj = {"phase": "Failed", "containerStatuses": [{
        "name": "c", "image": "busybox", "imageID": "", "ready": False, "restartCount": 0,
        "state": {"terminated": {"exitCode": code, "reason": "Error"}}}]}
    if conditions:
        status["conditions"] = conditions
    h.run(h.client.patch(resource_path("v1", "pods", ns, pod["metadata"]["name"], "status"), {"status": status}))


def test_pod_failure_policy_fail_job(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"containerName": "c", "operator": "In",
                                                              "values": [42]}}]}
    h.ok("-n", ns, "create", "-f", "-", input=job_yaml("fatal", podFailurePolicy=policy))
    pod = h.wait_for(lambda: job_pods(h, ns, "fatal"), "the pod")[0]
    fail_with(h, ns, pod, 42)
    h.ok("-n", ns, "wait", "--for=condition=failed", "job/fatal", "--timeout=30s")
    j = job(h, ns, "fatal")
    assert conditions(j) == {"FailureTarget": "PodFailurePolicy", "Failed": "PodFailurePolicy"}
    msg = next(c["message"] for c in j["status"]["conditions"] if c["type"] == "Failed")
    assert msg == f"Container c for pod {ns}/{pod['metadata']['name']} failed with exit code 42 matching FailJob " \
        "rule at index 0"
    assert j["status"]["failed"] == 1 and len(job_pods(h, ns, "fatal")) == 1  # no retry despite backoffLimit 6


def test_pod_failure_policy_ignore(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    policy = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}
    h.ok("-n", ns, "create", "-f", "-", input=job_yaml("tolerant", backoffLimit=0, podFailurePolicy=policy))
    first = h.wait_for(lambda: job_pods(h, ns, "tolerant"), "the pod")[0]
    fail_with(h, ns, first, 137, [{"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager"}])
    second = h.wait_for(lambda: live(job_pods(h, ns, "tolerant")), "a replacement for the ignored failure")[0]
    j = job(h, ns, "tolerant")
    assert not j["status"].get("failed") and not conditions(j)
    fail_with(h, ns, second, 1)  # an ordinary failure counts: backoffLimit 0 is exceeded
    h.ok("-n", ns, "wait", "--for=condition=failed", "job/tolerant", "--timeout=30s")
    j = job(h, ns, "tolerant")
    assert conditions(j)["Failed"] == "BackoffLimitExceeded" and j["status"]["failed"] == 1
