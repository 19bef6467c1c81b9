"""The ReplicaSet controller through kubectl: pods made, replaced, scaled, adopted and released."""

from __future__ import annotations

import json
from typing import Any

from tests.controllers.conftest import ControllerHarness, ready_status

CONTROLLERS = {"replicaset"}


def rs_yaml(name: str, replicas: int, app: str | None = None, min_ready: int = 0) -> str:
    app = app or name
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
        "spec": {"replicas": replicas, "minReadySeconds": min_ready, "selector": {"matchLabels": {"app": app}},
                 "template": {"metadata": {"labels": {"app": app, "tier": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})


def pods(h: ControllerHarness, ns: str, selector: str) -> list[dict[str, Any]]:
    return [p for p in h.pods(ns, selector) if not p["metadata"].get("deletionTimestamp")]


def names(h: ControllerHarness, ns: str, selector: str) -> set[str]:
    return {p["metadata"]["name"] for p in pods(h, ns, selector)}


def wait_count(h: ControllerHarness, ns: str, selector: str, n: int) -> set[str]:
    h.wait_for(lambda: len(names(h, ns, selector)) == n, f"{n} pods for {selector}")
    return names(h, ns, selector)


def get(h: ControllerHarness, ns: str, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = h.json("-n", ns, "get", *args)
    return out


def status(h: ControllerHarness, ns: str, name: str) -> dict[str, Any]:
    out: dict[str, Any] = get(h, ns, "rs", name).get("status") or {}
    return out


def test_creates_pods_owned_by_the_replicaset_and_reports_status(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "apply", "-f", "-", input=rs_yaml("web", 3))
    uid = get(h, ns, "rs", "web")["metadata"]["uid"]
    wait_count(h, ns, "app=web", 3)
    for p in pods(h, ns, "app=web"):
        assert p["metadata"]["name"].startswith("web-")
        assert p["metadata"]["generateName"] == "web-"
        assert p["metadata"]["labels"] == {"app": "web", "tier": "web"}
        assert p["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                                     "uid": uid, "controller": True, "blockOwnerDeletion": True}]
    h.wait_for(lambda: status(h, ns, "web").get("replicas") == 3, "status.replicas 3")
    assert status(h, ns, "web").get("readyReplicas", 0) == 0
    h.make_ready(ns, "app=web")
    h.wait_for(lambda: status(h, ns, "web").get("availableReplicas") == 3, "3 available")
    st = status(h, ns, "web")
    assert st["readyReplicas"] == 3 and st["fullyLabeledReplicas"] == 3
    assert st["observedGeneration"] == get(h, ns, "rs", "web")["metadata"]["generation"]
    # kubectl shows the events the controller recorded.
    h.wait_for(lambda: h.ok("-n", ns, "get", "events").count("SuccessfulCreate") == 3, "3 SuccessfulCreate events")
    events = h.ok("-n", ns, "get", "events")
    assert "Created pod: web-" in events
    assert "SuccessfulCreate" in h.ok("-n", ns, "describe", "rs", "web")
    assert "3 current / 3 desired" in h.ok("-n", ns, "describe", "rs", "web")


def test_deleted_pod_is_replaced(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "apply", "-f", "-", input=rs_yaml("r", 2))
    before = wait_count(h, ns, "app=r", 2)
    victim = sorted(before)[0]
    h.ok("-n", ns, "delete", "pod", victim)
    h.wait_for(lambda: len(n := names(h, ns, "app=r")) == 2 and victim not in n, "a replacement pod")
    after = names(h, ns, "app=r")
    assert len(after - before) == 1


def test_scale_down_removes_not_ready_pods_first(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "apply", "-f", "-", input=rs_yaml("s", 3))
    all_pods = sorted(wait_count(h, ns, "app=s", 3))
    not_ready = all_pods[1]
    h.make_ready(ns, "app=s")
    # Exactly one pod not ready: its kubelet reports it failing readiness.
    pod = next(p for p in pods(h, ns, "app=s") if p["metadata"]["name"] == not_ready)
    h.ok("-n", ns, "patch", "pod", not_ready, "--subresource=status", "--type=merge",
         "-p", json.dumps({"status": ready_status(pod, ready=False)}))
    h.wait_for(lambda: status(h, ns, "s").get("readyReplicas") == 2, "2 ready")
    h.ok("-n", ns, "scale", "rs", "s", "--replicas=2")
    left = wait_count(h, ns, "app=s", 2)
    assert not_ready not in left
    h.ok("-n", ns, "scale", "rs", "s", "--replicas=0")
    wait_count(h, ns, "app=s", 0)
    h.wait_for(lambda: status(h, ns, "s").get("replicas") == 0, "status.replicas 0")
    assert "SuccessfulDelete" in h.ok("-n", ns, "get", "events")


def test_adopts_matching_orphans_and_releases_relabelled_pods(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "run", "orphan", "--image", "busybox", "--labels", "app=a,tier=web")
    h.ok("-n", ns, "apply", "-f", "-", input=rs_yaml("a", 2))
    uid = get(h, ns, "rs", "a")["metadata"]["uid"]
    got = wait_count(h, ns, "app=a", 2)
    assert "orphan" in got  # adopted, so only one pod was created
    h.wait_for(lambda: [r["uid"] for r in get(h, ns, "pod", "orphan")["metadata"]
                        .get("ownerReferences", [])] == [uid], "orphan adopted")
    # Relabel a pod out of the selector: the ReplicaSet lets it go and makes another.
    h.ok("-n", ns, "label", "pod", "orphan", "app=elsewhere", "--overwrite")
    h.wait_for(lambda: not get(h, ns, "pod", "orphan")["metadata"].get("ownerReferences"),
               "orphan released")
    now = wait_count(h, ns, "app=a", 2)
    assert "orphan" not in now
    assert get(h, ns, "pod", "orphan")["metadata"]["labels"]["app"] == "elsewhere"


def test_pods_of_another_controller_are_left_alone(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "apply", "-f", "-", input=rs_yaml("one", 1, app="shared"))
    wait_count(h, ns, "app=shared", 1)
    h.ok("-n", ns, "apply", "-f", "-", input=rs_yaml("two", 1, app="shared"))
    # "two" sees one pod with its labels but owned by "one": it must create its own.
    wait_count(h, ns, "app=shared", 2)
    owners = sorted(p["metadata"]["ownerReferences"][0]["name"] for p in pods(h, ns, "app=shared"))
    assert owners == ["one", "two"]


def test_min_ready_seconds_delays_availability(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "apply", "-f", "-", input=rs_yaml("m", 1, min_ready=2))
    wait_count(h, ns, "app=m", 1)
    h.make_ready(ns, "app=m")
    h.wait_for(lambda: status(h, ns, "m").get("readyReplicas") == 1, "ready")
    h.wait_for(lambda: status(h, ns, "m").get("availableReplicas") == 1, "available after minReadySeconds")
