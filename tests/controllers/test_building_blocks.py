"""The controllers' building blocks on their own: the registry selection, events, expectations, Deployment math."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from kubelite.controllers import deployutil as du
from kubelite.controllers.events import EventRecorder
from kubelite.controllers.expectations import ControllerExpectations
from kubelite.controllers.manager import enabled_controllers
from kubelite.controllers.registry import CONTROLLERS as REGISTERED
from kubelite.errors import Invalid
from tests.controllers.conftest import ControllerHarness

CONTROLLERS: set[str] = set()  # the harness runs none: these tests write through the API themselves


def test_controller_selection_reads_like_kube_controller_manager() -> None:
    assert enabled_controllers(None) == set(REGISTERED)
    assert enabled_controllers("*") == set(REGISTERED)
    assert enabled_controllers("-*") == set()
    assert enabled_controllers("*,-deployment") == set(REGISTERED) - {"deployment"}
    assert enabled_controllers("-*,replicaset") == {"replicaset"}
    with pytest.raises(Invalid, match="unknown controller 'nope'"):
        enabled_controllers("nope")


def test_an_unknown_controller_name_is_a_clear_error() -> None:
    r = subprocess.run([sys.executable, "-c",
                        "import asyncio, os\n"
                        "from kubelite.api.client import APIClient\n"
                        "from kubelite.controllers.manager import start_controllers\n"
                        "os.environ['KUBELITE_CONTROLLERS'] = 'replicaset,bogus'\n"
                        "try:\n"
                        "    asyncio.run(start_controllers(APIClient('http://127.0.0.1:1')))\n"
                        "except Exception as e:\n"
                        "    print(type(e).__name__, e)\n"],
                       capture_output=True, text=True, timeout=60)
    assert "Invalid KUBELITE_CONTROLLERS: unknown controller 'bogus'" in r.stdout


def test_expectations_hold_until_observed() -> None:
    e = ControllerExpectations()
    assert e.satisfied("ns/rs")
    e.expect_creations("ns/rs", 2)
    assert not e.satisfied("ns/rs")
    e.creation_observed("ns/rs")
    assert not e.satisfied("ns/rs")
    e.lower("ns/rs", adds=1)  # the second create failed: nothing more will come
    assert e.satisfied("ns/rs")
    e.expect_deletions("ns/rs", ["ns/a", "ns/b"])
    e.deletion_observed("ns/rs", "ns/a")
    e.deletion_observed("ns/rs", "ns/a")
    assert not e.satisfied("ns/rs")
    e.deletion_observed("ns/rs", "ns/b")
    assert e.satisfied("ns/rs")
    stale = ControllerExpectations(ttl=0)
    stale.expect_creations("k", 5)
    assert stale.satisfied("k")  # an expired record never blocks the owner


def test_template_hash_is_stable_and_ignores_the_hash_label() -> None:
    t = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}
    h = du.compute_hash(t, None)
    assert h == du.compute_hash(json.loads(json.dumps(t)), None)
    assert h != du.compute_hash(t, 1)  # a collision count changes the name
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    other = json.loads(json.dumps(t))
    other["spec"]["containers"][0]["image"] = "i:2"
    assert du.compute_hash(other, None) != h
    labelled = json.loads(json.dumps(t))
    labelled["metadata"]["labels"][du.HASH_LABEL] = h
    labelled["metadata"]["annotations"] = {}
    assert du.equal_ignore_hash(t, labelled)
    assert not du.equal_ignore_hash(t, other)


def test_surge_and_unavailability_round_like_kube() -> None:
    def d(replicas: int, surge: object, unavailable: object) -> dict[str, object]:
        return {"spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate", "rollingUpdate": {
            "maxSurge": surge, "maxUnavailable": unavailable}}}}
    assert du.fenceposts(d(10, "25%", "25%")) == (3, 2)  # surge rounds up, unavailability down
    assert du.fenceposts(d(1, "25%", "25%")) == (1, 0)
    assert du.fenceposts(d(4, 0, 0)) == (0, 1)  # both zero would never progress
    assert du.max_unavailable(d(2, 0, 5)) == 2
    with pytest.raises(Invalid):
        du.fenceposts(d(4, "lots", 1))


def test_event_repeats_are_counted_on_one_event(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "configmap", "cm")
    cm = h.json("-n", ns, "get", "configmap", "cm")

    async def record() -> None:
        rec = EventRecorder(h.client, "test-controller")
        for _ in range(3):
            rec.event(cm, "Warning", "Trouble", "it broke")
        rec.event(cm, "Normal", "Fine", "all good")
        await rec.stop()

    h.run(record())
    items = h.json("-n", ns, "get", "events")["items"]
    assert isinstance(items, list)
    by_reason = {e["reason"]: e for e in items}
    assert len(items) == 2
    trouble = by_reason["Trouble"]
    assert trouble["count"] == 3 and trouble["type"] == "Warning" and trouble["message"] == "it broke"
    assert trouble["source"] == {"component": "test-controller"}
    assert trouble["involvedObject"]["kind"] == "ConfigMap" and trouble["involvedObject"]["name"] == "cm"
    assert trouble["firstTimestamp"] <= trouble["lastTimestamp"]
    assert "it broke" in h.ok("-n", ns, "describe", "configmap", "cm")


def test_replicaset_status_reports_and_clears_a_replica_failure() -> None:
    from kubelite.controllers.replicaset import ReplicaSetController
    rs: dict[str, Any] = {"metadata": {"name": "r", "generation": 4},
          "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "r", "v": "1"}}}}}
    pods: list[dict[str, Any]] = [{"metadata": {"labels": {"app": "r", "v": "1"}},
             "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
            {"metadata": {"labels": {"app": "r"}}, "status": {}}]
    failed = ReplicaSetController.calculate_status(rs, pods, Invalid("pods is forbidden"), -1)
    assert (failed["replicas"], failed["fullyLabeledReplicas"], failed["readyReplicas"],
            failed["availableReplicas"], failed["observedGeneration"]) == (2, 1, 1, 1, 4)
    (cond,) = failed["conditions"]
    assert (cond["type"], cond["reason"], cond["message"]) == ("ReplicaFailure", "FailedCreate", "pods is forbidden")
    cleared = ReplicaSetController.calculate_status({**rs, "status": failed}, pods, None, 0)
    assert "conditions" not in cleared


def test_many_similar_events_are_combined(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "configmap", "many")
    cm = h.json("-n", ns, "get", "configmap", "many")

    async def record() -> None:
        rec = EventRecorder(h.client, "test-controller")
        for i in range(15):
            rec.event(cm, "Normal", "Made", f"made thing {i}")
        await rec.stop()

    h.run(record())
    items = h.json("-n", ns, "get", "events")["items"]
    assert isinstance(items, list)
    plain = sorted(e["message"] for e in items if not e["message"].startswith("(combined"))
    combined = [e for e in items if e["message"].startswith("(combined from similar events): ")]
    assert plain == sorted(f"made thing {i}" for i in range(9))
    assert len(combined) == 1
    assert combined[0]["count"] == 6 and combined[0]["message"].endswith("made thing 14")


def test_pods_that_matter_least_are_deleted_first() -> None:
    from kubelite.controllers.podcontrol import deletion_rank

    def pod(name: str, *, node: str = "n", phase: str = "Running", ready: bool = True, created: str = "00",
            restarts: int = 0) -> dict[str, Any]:
        return {"metadata": {"name": name, "creationTimestamp": f"2026-01-01T00:00:{created}Z"},
                "spec": {"nodeName": node},
                "status": {"phase": phase, "containerStatuses": [{"restartCount": restarts}],
                           "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                           "lastTransitionTime": "2026-01-01T00:01:00Z"}]}}

    pods = [pod("old-ready"), pod("new-ready", created="30"), pod("restarting", restarts=3),
            pod("not-ready", ready=False), pod("pending", phase="Pending", ready=False),
            pod("unscheduled", node="", phase="Pending", ready=False)]
    order = [p["metadata"]["name"] for p in sorted(pods, key=lambda p: deletion_rank(p, 1e10))]
    assert order == ["unscheduled", "pending", "not-ready", "restarting", "new-ready", "old-ready"]
