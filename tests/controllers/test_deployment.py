"""The Deployment controller through the real kubectl: create, scale, roll out, history, undo, pause, restart."""

from __future__ import annotations

import json
from typing import Any

from tests.controllers.conftest import ControllerHarness

CONTROLLERS = {"replicaset", "deployment"}


def get(h: ControllerHarness, ns: str, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = h.json("-n", ns, "get", *args)
    return out


def live_pods(h: ControllerHarness, ns: str, selector: str) -> list[dict[str, Any]]:
    return [p for p in h.pods(ns, selector) if not p["metadata"].get("deletionTimestamp")]


def images(h: ControllerHarness, ns: str, selector: str) -> list[str]:
    return sorted(p["spec"]["containers"][0]["image"] for p in live_pods(h, ns, selector))


def replicasets(h: ControllerHarness, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get(h, ns, "rs")["items"]
    return items


def test_create_deployment_makes_a_replicaset_and_pods(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "deployment", "web", "--image", "busybox:1.36", "--replicas", "3")
    h.wait_for(lambda: len(live_pods(h, ns, "app=web")) == 3, "3 pods")
    (rs,) = replicasets(h, ns)
    d = get(h, ns, "deploy", "web")
    hash_ = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{hash_}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": hash_}
    assert rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "3"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "4"
    for p in live_pods(h, ns, "app=web"):
        assert p["metadata"]["labels"]["pod-template-hash"] == hash_
    with h.kubelet(ns):
        out = h.ok("-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
    assert 'deployment "web" successfully rolled out' in out
    d = get(h, ns, "deploy", "web")
    st = d["status"]
    assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"]) == (3, 3, 3, 3)
    assert st["observedGeneration"] == d["metadata"]["generation"]
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Available"]["status"] == "True"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert "ScalingReplicaSet" in h.ok("-n", ns, "describe", "deployment", "web")
    assert f"Scaled up replica set web-{hash_} from 0 to 3" in h.ok("-n", ns, "get", "events")


def test_scale_and_deleted_pods_are_replaced(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "deployment", "s", "--image", "busybox", "--replicas", "2")
    h.wait_for(lambda: len(live_pods(h, ns, "app=s")) == 2, "2 pods")
    h.ok("-n", ns, "scale", "deployment", "s", "--replicas=5")
    h.wait_for(lambda: len(live_pods(h, ns, "app=s")) == 5, "5 pods")
    (rs,) = replicasets(h, ns)
    assert rs["spec"]["replicas"] == 5
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "5"
    h.ok("-n", ns, "scale", "deployment", "s", "--replicas=1")
    h.wait_for(lambda: len(live_pods(h, ns, "app=s")) == 1, "1 pod")
    victim = live_pods(h, ns, "app=s")[0]["metadata"]["name"]
    h.ok("-n", ns, "delete", "pod", victim)
    h.wait_for(lambda: [p["metadata"]["name"] for p in live_pods(h, ns, "app=s")] not in ([], [victim]),
               "a replacement pod")
    with h.kubelet(ns):
        h.ok("-n", ns, "rollout", "status", "deployment/s", "--timeout=60s")
    st = get(h, ns, "deploy", "s")["status"]
    assert (st["replicas"], st["availableReplicas"]) == (1, 1)
    assert len(replicasets(h, ns)) == 1  # scaling never makes a new ReplicaSet


def test_set_image_rolls_out_a_new_revision_and_undo_goes_back(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "deployment", "app", "--image", "busybox:1", "--replicas", "4")
    with h.kubelet(ns):
        h.ok("-n", ns, "rollout", "status", "deployment/app", "--timeout=60s")
        first = {rs["metadata"]["name"] for rs in replicasets(h, ns)}
        h.ok("-n", ns, "annotate", "deployment", "app", "kubernetes.io/change-cause=to v2")
        h.ok("-n", ns, "set", "image", "deployment/app", "busybox=busybox:2")
        out = h.ok("-n", ns, "rollout", "status", "deployment/app", "--timeout=60s")
        assert 'deployment "app" successfully rolled out' in out
        assert images(h, ns, "app=app") == ["busybox:2"] * 4
        by_rev = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs
                  for rs in replicasets(h, ns)}
        assert set(by_rev) == {"1", "2"}
        assert by_rev["1"]["metadata"]["name"] in first and by_rev["1"]["spec"]["replicas"] == 0
        assert by_rev["2"]["spec"]["replicas"] == 4
        assert by_rev["2"]["metadata"]["annotations"]["kubernetes.io/change-cause"] == "to v2"
        d = get(h, ns, "deploy", "app")
        assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
        history = h.ok("-n", ns, "rollout", "history", "deployment/app")
        assert "to v2" in history and "1 " in history and "2 " in history
        assert "busybox:1" in h.ok("-n", ns, "rollout", "history", "deployment/app", "--revision=1")

        h.ok("-n", ns, "rollout", "undo", "deployment/app")
        h.ok("-n", ns, "rollout", "status", "deployment/app", "--timeout=60s")
        assert images(h, ns, "app=app") == ["busybox:1"] * 4
        # The old ReplicaSet came back as revision 3; no third ReplicaSet was made.
        rss = replicasets(h, ns)
        assert len(rss) == 2
        back = next(rs for rs in rss if rs["metadata"]["name"] in first)
        assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
        assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
        assert back["spec"]["replicas"] == 4
        assert get(h, ns, "deploy", "app")["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    history = h.ok("-n", ns, "rollout", "history", "deployment/app")
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]


def test_rolling_update_respects_max_surge_and_max_unavailable(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "deployment", "r", "--image", "busybox:1", "--replicas", "4")
    h.ok("-n", ns, "patch", "deployment", "r", "--type=merge", "-p",
         json.dumps({"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}}))
    h.wait_for(lambda: len(live_pods(h, ns, "app=r")) == 4, "4 pods")
    h.make_ready(ns, "app=r")
    h.wait_for(lambda: get(h, ns, "deploy", "r")["status"].get("availableReplicas") == 4, "4 available")
    h.ok("-n", ns, "set", "image", "deployment/r", "busybox=busybox:2")
    # With no pod ever ready, the rollout may add one pod (surge 1) and remove none (unavailable 0).
    h.wait_for(lambda: len(live_pods(h, ns, "app=r")) == 5, "one surge pod")
    d = h.wait_for(lambda: (d := get(h, ns, "deploy", "r"))["status"].get("updatedReplicas") == 1 and d,
                   "status counts the surge pod")
    assert images(h, ns, "app=r") == ["busybox:1"] * 4 + ["busybox:2"]
    st = d["status"]
    assert (st["replicas"], st["availableReplicas"]) == (5, 4)
    assert {c["type"]: c["reason"] for c in st["conditions"]}["Progressing"] == "ReplicaSetUpdated"
    r = h.kubectl("-n", ns, "rollout", "status", "deployment/r", "--timeout=1s")
    assert r.returncode != 0 and "1 out of 4 new replicas have been updated" in r.stdout
    with h.kubelet(ns):
        h.ok("-n", ns, "rollout", "status", "deployment/r", "--timeout=60s")
    assert images(h, ns, "app=r") == ["busybox:2"] * 4


def test_recreate_removes_old_pods_before_starting_new_ones(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "deployment", "re", "--image", "busybox:1", "--replicas", "2")
    h.ok("-n", ns, "patch", "deployment", "re", "--type=merge", "-p",
         json.dumps({"spec": {"strategy": {"type": "Recreate", "rollingUpdate": None}}}))
    with h.kubelet(ns):
        h.ok("-n", ns, "rollout", "status", "deployment/re", "--timeout=60s")
        h.ok("-n", ns, "set", "image", "deployment/re", "busybox=busybox:2")
        h.ok("-n", ns, "rollout", "status", "deployment/re", "--timeout=60s")
    assert images(h, ns, "app=re") == ["busybox:2"] * 2
    events = h.ok("-n", ns, "get", "events", "--sort-by=.metadata.creationTimestamp")
    old, new = sorted(replicasets(h, ns), key=lambda rs: rs["metadata"]["annotations"]
                      ["deployment.kubernetes.io/revision"])
    down = events.index(f"Scaled down replica set {old['metadata']['name']} to 0 from 2")
    up = events.index(f"Scaled up replica set {new['metadata']['name']} from 0 to 2")
    assert down < up


def test_pause_resume_and_restart(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "deployment", "p", "--image", "busybox:1", "--replicas", "2")
    with h.kubelet(ns):
        h.ok("-n", ns, "rollout", "status", "deployment/p", "--timeout=60s")
        h.ok("-n", ns, "rollout", "pause", "deployment/p")
        h.wait_for(lambda: {c["type"]: c for c in get(h, ns, "deploy", "p")["status"]["conditions"]}
                   ["Progressing"]["reason"] == "DeploymentPaused", "the paused condition")
        h.ok("-n", ns, "set", "image", "deployment/p", "busybox=busybox:2")
        h.ok("-n", ns, "scale", "deployment", "p", "--replicas=3")
        # Paused: the replica change applies to the current ReplicaSet, the template change waits.
        h.wait_for(lambda: len(live_pods(h, ns, "app=p")) == 3, "3 pods while paused")
        assert images(h, ns, "app=p") == ["busybox:1"] * 3
        assert len(replicasets(h, ns)) == 1
        h.ok("-n", ns, "rollout", "resume", "deployment/p")
        h.ok("-n", ns, "rollout", "status", "deployment/p", "--timeout=60s")
        assert images(h, ns, "app=p") == ["busybox:2"] * 3
        before = {p["metadata"]["name"] for p in live_pods(h, ns, "app=p")}
        h.ok("-n", ns, "rollout", "restart", "deployment/p")
        h.ok("-n", ns, "rollout", "status", "deployment/p", "--timeout=60s")
        after = {p["metadata"]["name"] for p in live_pods(h, ns, "app=p")}
        assert len(after) == 3 and not before & after
        assert len(replicasets(h, ns)) == 3
    for p in live_pods(h, ns, "app=p"):
        assert "kubectl.kubernetes.io/restartedAt" in p["metadata"]["annotations"]


def test_progress_deadline_exceeded(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "deployment", "slow", "--image", "busybox", "--replicas", "1")
    # Let the rollout settle first (its pod exists, never ready): after that nothing progresses any more.
    h.wait_for(lambda: (st := get(h, ns, "deploy", "slow").get("status", {})).get("replicas") == 1 and
               st.get("updatedReplicas") == 1, "the pod counted")
    h.ok("-n", ns, "patch", "deployment", "slow", "--type=merge", "-p",
         json.dumps({"spec": {"progressDeadlineSeconds": 1}}))

    def progressing() -> dict[str, Any]:
        conds = get(h, ns, "deploy", "slow").get("status", {}).get("conditions", [])
        return next((c for c in conds if c["type"] == "Progressing"), {})

    # No pod ever becomes ready: the controller gives up on the rollout after the deadline.
    def timed_out() -> dict[str, Any] | None:
        c = progressing()
        return c if c.get("reason") == "ProgressDeadlineExceeded" else None

    cond = h.wait_for(timed_out, "ProgressDeadlineExceeded")
    assert cond is not None and cond["status"] == "False"
    r = h.kubectl("-n", ns, "rollout", "status", "deployment/slow", "--timeout=20s")
    assert r.returncode != 0 and 'deployment "slow" exceeded its progress deadline' in r.stderr


def test_revision_history_limit_deletes_old_replicasets(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "deployment", "h", "--image", "busybox:0", "--replicas", "1")
    h.ok("-n", ns, "patch", "deployment", "h", "--type=merge", "-p", '{"spec":{"revisionHistoryLimit":1}}')
    with h.kubelet(ns):
        for v in range(1, 4):
            h.ok("-n", ns, "set", "image", "deployment/h", f"busybox=busybox:{v}")
            h.ok("-n", ns, "rollout", "status", "deployment/h", "--timeout=60s")
    h.wait_for(lambda: len(replicasets(h, ns)) == 2, "one old ReplicaSet kept")
    revs = sorted(int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
                  for rs in replicasets(h, ns))
    assert revs == [3, 4]


def test_adopts_orphaned_replicasets_and_releases_mismatched_ones(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "deployment", "o", "--image", "busybox", "--replicas", "2")
    h.wait_for(lambda: len(live_pods(h, ns, "app=o")) == 2, "2 pods")
    (rs,) = replicasets(h, ns)
    name, uid = rs["metadata"]["name"], get(h, ns, "deploy", "o")["metadata"]["uid"]
    # Orphan the ReplicaSet: the Deployment's selector still matches it, so it is adopted back.
    h.ok("-n", ns, "patch", "rs", name, "--type=json", "-p", '[{"op":"remove","path":"/metadata/ownerReferences"}]')
    h.wait_for(lambda: [r.get("uid") for r in get(h, ns, "rs", name)["metadata"].get("ownerReferences", [])]
               == [uid], "the ReplicaSet adopted")
    assert len(replicasets(h, ns)) == 1
    # Relabel it out of the selector: it is released, and the Deployment makes a new one for its template.
    h.ok("-n", ns, "label", "rs", name, "app=gone", "--overwrite")
    h.wait_for(lambda: not get(h, ns, "rs", name)["metadata"].get("ownerReferences"), "the ReplicaSet released")
    h.wait_for(lambda: len(replicasets(h, ns)) == 2, "a new ReplicaSet")
    new = next(r for r in replicasets(h, ns) if r["metadata"]["name"] != name)
    assert new["metadata"]["ownerReferences"][0]["uid"] == uid


def test_scaling_mid_rollout_is_proportional(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "deployment", "pr", "--image", "busybox:1", "--replicas", "4")
    h.ok("-n", ns, "patch", "deployment", "pr", "--type=merge", "-p",
         json.dumps({"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}}))
    h.wait_for(lambda: len(live_pods(h, ns, "app=pr")) == 4, "4 pods")
    h.make_ready(ns, "app=pr")
    h.wait_for(lambda: get(h, ns, "deploy", "pr")["status"].get("availableReplicas") == 4, "4 available")
    h.ok("-n", ns, "set", "image", "deployment/pr", "busybox=busybox:2")
    h.wait_for(lambda: len(live_pods(h, ns, "app=pr")) == 5, "the surge pod")
    h.ok("-n", ns, "rollout", "pause", "deployment/pr")
    h.ok("-n", ns, "scale", "deployment", "pr", "--replicas=8")
    # 8 + maxSurge 1 = 9 pods, shared by the two ReplicaSets in proportion to their size (4:1 of 5).
    h.wait_for(lambda: len(live_pods(h, ns, "app=pr")) == 9, "9 pods")
    sizes = sorted((rs["spec"]["template"]["spec"]["containers"][0]["image"], rs["spec"]["replicas"])
                   for rs in replicasets(h, ns))
    assert sizes == [("busybox:1", 7), ("busybox:2", 2)]
    for rs in replicasets(h, ns):
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "8"
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "9"
    with h.kubelet(ns):
        h.ok("-n", ns, "rollout", "resume", "deployment/pr")
        h.ok("-n", ns, "rollout", "status", "deployment/pr", "--timeout=60s")
    assert images(h, ns, "app=pr") == ["busybox:2"] * 8


def test_controllers_restarted_mid_rollout_finish_it_without_duplicates(controllers: ControllerHarness,
                                                                        ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "deployment", "c", "--image", "busybox:1", "--replicas", "6")
    h.restart()
    h.wait_for(lambda: len(live_pods(h, ns, "app=c")) >= 1, "pods being made")
    h.restart()
    h.wait_for(lambda: len(live_pods(h, ns, "app=c")) == 6, "6 pods")
    with h.kubelet(ns):
        h.ok("-n", ns, "rollout", "status", "deployment/c", "--timeout=60s")
        h.ok("-n", ns, "set", "image", "deployment/c", "busybox=busybox:2")
        h.restart()
        h.ok("-n", ns, "rollout", "status", "deployment/c", "--timeout=60s")
    assert images(h, ns, "app=c") == ["busybox:2"] * 6
    assert sorted(rs["spec"]["replicas"] for rs in replicasets(h, ns)) == [0, 6]
    revisions = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for rs in replicasets(h, ns)}
    assert revisions == {"1", "2"}


def deployment_manifest(image: str, cause: str) -> str:
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "ap", "annotations": {"kubernetes.io/change-cause": cause}},
        "spec": {"replicas": 2, "minReadySeconds": 1, "selector": {"matchLabels": {"app": "ap"}},
                 "template": {"metadata": {"labels": {"app": "ap"}},
                              "spec": {"containers": [{"name": "c", "image": image}]}}}})


def test_apply_rolls_out_and_history_shows_the_change_causes(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    with h.kubelet(ns):
        h.ok("-n", ns, "apply", "-f", "-", input=deployment_manifest("busybox:1", "first"))
        h.ok("-n", ns, "rollout", "status", "deployment/ap", "--timeout=60s")
        h.ok("-n", ns, "apply", "-f", "-", input=deployment_manifest("busybox:2", "second"))
        h.ok("-n", ns, "rollout", "status", "deployment/ap", "--timeout=60s")
    assert images(h, ns, "app=ap") == ["busybox:2"] * 2
    for rs in replicasets(h, ns):
        assert rs["spec"]["minReadySeconds"] == 1
        assert "kubectl.kubernetes.io/last-applied-configuration" not in rs["metadata"]["annotations"]
    rows = [line.split(None, 1) for line in h.ok("-n", ns, "rollout", "history", "deployment/ap").splitlines()[2:]
            if line.strip()]
    assert rows == [["1", "first"], ["2", "second"]]
