"""The StatefulSet controller through kubectl: stable names, ordered create and scale down, rolling updates.

:mod:`tests.controllers.nodesim` binds pods to one fake node, makes them Ready and
finishes their graceful deletion, as the scheduler and a kubelet would; holding
readiness or deletions back shows what the controller waits for.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.controllers.conftest import ControllerHarness
from tests.controllers.nodesim import NodeSim, fake_nodes, node_object, simulate

CONTROLLERS = {"statefulset"}
Obj = dict[str, Any]
_ids = itertools.count()


def sts_yaml(name: str, replicas: int = 3, image: str = "busybox:1", *, policy: str | None = None,
             strategy: Obj | None = None, start: int | None = None) -> str:
    spec: Obj = {"serviceName": name, "replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {
                     "containers": [{"name": "c", "image": image}], "terminationGracePeriodSeconds": 30}}}
    if policy:
        spec["podManagementPolicy"] = policy
    if strategy:
        spec["updateStrategy"] = strategy
    if start is not None:
        spec["ordinals"] = {"start": start}
    return json.dumps({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": spec})


@pytest.fixture
def sim(controllers: ControllerHarness, ns: str) -> Iterator[NodeSim]:
    node = f"sts{next(_ids)}-{ns}"
    with fake_nodes(controllers, node_object(node)), simulate(controllers, ns, [node]) as s:
        yield s


def names(h: ControllerHarness, ns: str, app: str, *, terminating: bool | None = None) -> list[str]:
    out = []
    for p in h.pods(ns, f"app={app}"):
        if terminating is None or bool(p["metadata"].get("deletionTimestamp")) == terminating:
            out.append(p["metadata"]["name"])
    return sorted(out)


def images(h: ControllerHarness, ns: str, app: str) -> dict[str, str]:
    return {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in h.pods(ns, f"app={app}")
            if not p["metadata"].get("deletionTimestamp")}


def delete_pod(h: ControllerHarness, ns: str, name: str) -> None:
    """``kubectl delete pod`` without waiting: kubectl's wait for deletion can miss a pod that is deleted and
    recreated under the same name between its GET and its list, and then waits for a delete that never comes."""
    h.ok("-n", ns, "delete", "pod", name, "--wait=false")


def status(h: ControllerHarness, ns: str, name: str) -> Obj:
    out: Obj = h.json("-n", ns, "get", "sts", name).get("status") or {}
    return out


def test_ordered_creation_identity_and_scale_down(controllers: ControllerHarness, ns: str, sim: NodeSim) -> None:
    h = controllers
    sim.hold = lambda pod: pod["metadata"]["name"] == "web-1"
    h.ok("-n", ns, "apply", "-f", "-", input=sts_yaml("web"))
    h.wait_for(lambda: names(h, ns, "web") == ["web-0", "web-1"], "web-0 then web-1")
    # web-1 is not Ready, so web-2 is not created: OrderedReady.
    assert status(h, ns, "web").get("readyReplicas") in (None, 0, 1)
    assert names(h, ns, "web") == ["web-0", "web-1"]
    r = h.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=1s")
    assert r.returncode != 0 and "pods to be ready" in r.stdout + r.stderr

    sim.hold = lambda pod: False
    sim.poke()
    h.ok("-n", ns, "rollout", "status", "sts/web", "--timeout=60s")
    assert names(h, ns, "web") == ["web-0", "web-1", "web-2"]
    st = status(h, ns, "web")
    assert (st["replicas"], st["readyReplicas"], st["updatedReplicas"], st["currentReplicas"]) == (3, 3, 3, 3)
    assert st["currentRevision"] == st["updateRevision"] and st["updateRevision"].startswith("web-")
    pod = h.json("-n", ns, "get", "pod", "web-2")
    labels = pod["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-2"
    assert labels["apps.kubernetes.io/pod-index"] == "2"
    assert labels["controller-revision-hash"] == st["updateRevision"]
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("web-2", "web")
    ref = pod["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"]) == ("StatefulSet", "web", True)
    assert h.ok("-n", ns, "get", "sts", "web").split("\n")[1].split()[:2] == ["web", "3/3"]

    # A deleted pod comes back under the same name.
    uid = h.json("-n", ns, "get", "pod", "web-1")["metadata"]["uid"]
    delete_pod(h, ns, "web-1")
    h.wait_for(lambda: names(h, ns, "web", terminating=False) == ["web-0", "web-1", "web-2"] and
               h.json("-n", ns, "get", "pod", "web-1")["metadata"]["uid"] != uid, "web-1 recreated")

    # Scale down: highest ordinal first, the next only after it is gone.
    sim.hold_deletes = True
    h.ok("-n", ns, "scale", "sts/web", "--replicas=1")
    h.wait_for(lambda: names(h, ns, "web", terminating=True) == ["web-2"], "web-2 terminating")
    assert names(h, ns, "web", terminating=False) == ["web-0", "web-1"]
    sim.hold_deletes = False
    sim.poke()
    h.wait_for(lambda: names(h, ns, "web") == ["web-0"], "scaled down to web-0")
    h.ok("-n", ns, "rollout", "status", "sts/web", "--timeout=60s")
    described = h.ok("-n", ns, "describe", "sts", "web")
    assert "create Pod web-2 in StatefulSet web successful" in described
    assert "delete Pod web-2 in StatefulSet web successful" in described


def test_parallel_creates_without_waiting(controllers: ControllerHarness, ns: str, sim: NodeSim) -> None:
    h = controllers
    sim.hold = lambda pod: True  # nothing ever turns Ready
    h.ok("-n", ns, "apply", "-f", "-", input=sts_yaml("par", policy="Parallel", start=1))  # ordinals from 1
    h.wait_for(lambda: names(h, ns, "par") == ["par-1", "par-2", "par-3"], "every pod at once")
    sim.hold_deletes = True
    h.ok("-n", ns, "scale", "sts/par", "--replicas=0")
    h.wait_for(lambda: names(h, ns, "par", terminating=True) == ["par-1", "par-2", "par-3"], "every pod deleted at once")
    sim.hold_deletes = False
    sim.poke()
    h.wait_for(lambda: names(h, ns, "par") == [], "all gone")


def test_rolling_update_highest_ordinal_first(controllers: ControllerHarness, ns: str, sim: NodeSim) -> None:
    h = controllers
    h.ok("-n", ns, "apply", "-f", "-", input=sts_yaml("ru"))
    h.ok("-n", ns, "rollout", "status", "sts/ru", "--timeout=60s")
    old_rev = status(h, ns, "ru")["currentRevision"]

    sim.hold = lambda pod: pod["spec"]["containers"][0]["image"] == "busybox:2"
    h.ok("-n", ns, "set", "image", "sts/ru", "c=busybox:2")
    h.wait_for(lambda: images(h, ns, "ru").get("ru-2") == "busybox:2", "ru-2 replaced first")
    assert images(h, ns, "ru") == {"ru-0": "busybox:1", "ru-1": "busybox:1", "ru-2": "busybox:2"}
    st = status(h, ns, "ru")
    assert st["currentRevision"] == old_rev and st["updateRevision"] != old_rev

    sim.hold = lambda pod: False
    sim.poke()
    h.ok("-n", ns, "rollout", "status", "sts/ru", "--timeout=60s")
    h.wait_for(lambda: status(h, ns, "ru").get("currentRevision") == status(h, ns, "ru").get("updateRevision"),
               "the update revision become current")
    assert set(images(h, ns, "ru").values()) == {"busybox:2"}
    st = status(h, ns, "ru")
    assert (st["updatedReplicas"], st["currentReplicas"], st["readyReplicas"]) == (3, 3, 3)

    # `rollout restart` is a template change like any other: every pod is replaced, highest first.
    before = {p["metadata"]["name"]: p["metadata"]["uid"] for p in h.pods(ns, "app=ru")}
    h.ok("-n", ns, "rollout", "restart", "sts/ru")
    h.wait_for(lambda: status(h, ns, "ru").get("updateRevision") != st["updateRevision"], "the restart observed")
    h.ok("-n", ns, "rollout", "status", "sts/ru", "--timeout=60s")
    after = {p["metadata"]["name"]: p["metadata"]["uid"] for p in h.pods(ns, "app=ru")}
    assert sorted(after) == sorted(before) and not set(after.values()) & set(before.values())


def test_partition_and_on_delete(controllers: ControllerHarness, ns: str, sim: NodeSim) -> None:
    h = controllers
    part = {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    h.ok("-n", ns, "apply", "-f", "-", input=sts_yaml("pt", strategy=part))
    h.ok("-n", ns, "rollout", "status", "sts/pt", "--timeout=60s")
    h.ok("-n", ns, "apply", "-f", "-", input=sts_yaml("pt", image="busybox:2", strategy=part))
    out = h.ok("-n", ns, "rollout", "status", "sts/pt", "--timeout=60s")
    assert "partitioned roll out complete: 1 new pods have been updated" in out
    assert images(h, ns, "pt") == {"pt-0": "busybox:1", "pt-1": "busybox:1", "pt-2": "busybox:2"}
    # Below the partition a deleted pod comes back at the current (old) revision.
    uid = h.json("-n", ns, "get", "pod", "pt-0")["metadata"]["uid"]
    delete_pod(h, ns, "pt-0")
    pt0 = h.wait_for(lambda: [p for p in h.pods(ns, "app=pt") if p["metadata"]["name"] == "pt-0" and
                              p["metadata"]["uid"] != uid], "pt-0 recreated")[0]
    assert pt0["spec"]["containers"][0]["image"] == "busybox:1"
    assert pt0["metadata"]["labels"]["controller-revision-hash"] == status(h, ns, "pt")["currentRevision"]

    ondel = json.loads(sts_yaml("od", replicas=2, strategy={"type": "OnDelete"}))
    ondel["spec"]["minReadySeconds"] = 1
    h.ok("-n", ns, "apply", "-f", "-", input=json.dumps(ondel))
    # Available only minReadySeconds after Ready, a moment no event marks: the controller looks again then.
    h.wait_for(lambda: status(h, ns, "od").get("availableReplicas") == 2, "od available")
    h.ok("-n", ns, "set", "image", "sts/od", "c=busybox:2")
    h.wait_for(lambda: status(h, ns, "od").get("observedGeneration") == 2, "the new template observed")
    assert status(h, ns, "od")["updatedReplicas"] == 0
    assert images(h, ns, "od") == {"od-0": "busybox:1", "od-1": "busybox:1"}
    delete_pod(h, ns, "od-1")
    h.wait_for(lambda: images(h, ns, "od") == {"od-0": "busybox:1", "od-1": "busybox:2"},
               "od-1 recreated from the update revision")

    # A failed pod is deleted and recreated under its name.
    h.ok("-n", ns, "patch", "pod", "od-0", "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Failed"}}')
    h.wait_for(lambda: images(h, ns, "od").get("od-0") == "busybox:2", "od-0 recreated after failing")
    assert "RecreatingFailedPod" in h.ok("-n", ns, "get", "events", "--field-selector", "involvedObject.name=od")


def test_adopts_orphans_named_like_its_pods(controllers: ControllerHarness, ns: str, sim: NodeSim) -> None:
    h = controllers
    h.ok("-n", ns, "run", "ad-0", "--image=busybox:1", "--labels=app=ad")
    h.ok("-n", ns, "run", "stray", "--image=busybox:1", "--labels=app=ad")
    uid = h.json("-n", ns, "get", "pod", "ad-0")["metadata"]["uid"]
    # OnDelete: under RollingUpdate the adopted pod, which has no revision label, would be replaced (as in kube).
    h.ok("-n", ns, "apply", "-f", "-", input=sts_yaml("ad", replicas=2, strategy={"type": "OnDelete"}))
    h.wait_for(lambda: status(h, ns, "ad").get("readyReplicas") == 2, "two ready pods")
    adopted = h.json("-n", ns, "get", "pod", "ad-0")
    assert adopted["metadata"]["uid"] == uid  # adopted, not replaced
    assert [(r["kind"], r["name"]) for r in adopted["metadata"]["ownerReferences"]] == [("StatefulSet", "ad")]
    h.wait_for(lambda: h.json("-n", ns, "get", "pod", "ad-0")["metadata"]["labels"].get(
        "statefulset.kubernetes.io/pod-name") == "ad-0", "its identity labels restored")
    assert names(h, ns, "ad") == ["ad-0", "ad-1", "stray"]
    assert not h.json("-n", ns, "get", "pod", "stray")["metadata"].get("ownerReferences")  # not a member


def revisions(h: ControllerHarness, ns: str, kind: str, name: str) -> list[int]:
    """The REVISION column of ``kubectl rollout history``."""
    out = h.ok("-n", ns, "rollout", "history", f"{kind}/{name}").splitlines()
    header = out.index(next(line for line in out if line.startswith("REVISION")))
    return [int(line.split()[0]) for line in out[header + 1:] if line.strip()]


def test_rollout_history_and_undo(controllers: ControllerHarness, ns: str, sim: NodeSim) -> None:
    """Templates are kept as ControllerRevisions: ``kubectl rollout history/undo sts/x`` read and apply them."""
    h = controllers
    h.ok("-n", ns, "apply", "-f", "-", input=sts_yaml("hi", replicas=2))
    h.ok("-n", ns, "rollout", "status", "sts/hi", "--timeout=60s")
    h.ok("-n", ns, "set", "image", "sts/hi", "c=busybox:2")
    h.ok("-n", ns, "rollout", "status", "sts/hi", "--timeout=60s")
    assert revisions(h, ns, "sts", "hi") == [1, 2]
    st = status(h, ns, "hi")
    revs = {r["metadata"]["name"]: r for r in h.json("-n", ns, "get", "controllerrevisions")["items"]}
    assert st["currentRevision"] == st["updateRevision"] and revs[st["updateRevision"]]["revision"] == 2
    sts_uid = h.json("-n", ns, "get", "sts", "hi")["metadata"]["uid"]
    for rev in revs.values():
        assert rev["metadata"]["name"].startswith("hi-") and rev["metadata"]["labels"]["app"] == "hi"
        assert rev["metadata"]["labels"]["controller.kubernetes.io/hash"] == rev["metadata"]["name"][3:]
        assert [(o["kind"], o["uid"], o["controller"]) for o in rev["metadata"]["ownerReferences"]] == \
            [("StatefulSet", sts_uid, True)]
    assert "busybox:1" in h.ok("-n", ns, "rollout", "history", "sts/hi", "--revision=1")

    out = h.ok("-n", ns, "rollout", "undo", "sts/hi")
    assert "statefulset.apps/hi rolled back" in out
    h.wait_for(lambda: status(h, ns, "hi").get("observedGeneration") == 3, "the undo observed")
    h.ok("-n", ns, "rollout", "status", "sts/hi", "--timeout=60s")
    h.wait_for(lambda: images(h, ns, "hi") == {"hi-0": "busybox:1", "hi-1": "busybox:1"}, "the old image back")
    # the old template's revision is renumbered, not duplicated
    assert revisions(h, ns, "sts", "hi") == [2, 3]
    assert status(h, ns, "hi")["updateRevision"] in revs
    h.ok("-n", ns, "rollout", "undo", "sts/hi", "--to-revision=2")
    h.ok("-n", ns, "rollout", "status", "sts/hi", "--timeout=60s")
    h.wait_for(lambda: images(h, ns, "hi") == {"hi-0": "busybox:2", "hi-1": "busybox:2"}, "revision 2's image")
    assert revisions(h, ns, "sts", "hi") == [3, 4]


def test_history_limit_and_the_older_template_after_a_restart(controllers: ControllerHarness, ns: str,
                                                               sim: NodeSim) -> None:
    h = controllers
    part = {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}
    spec = json.loads(sts_yaml("hl", replicas=2, strategy=part))
    spec["spec"]["revisionHistoryLimit"] = 1
    h.ok("-n", ns, "apply", "-f", "-", input=json.dumps(spec))
    h.ok("-n", ns, "rollout", "status", "sts/hl", "--timeout=60s")
    for image in ("busybox:2", "busybox:3"):
        h.ok("-n", ns, "set", "image", "sts/hl", f"c={image}")
        h.ok("-n", ns, "rollout", "status", "sts/hl", "--timeout=60s")
    assert images(h, ns, "hl") == {"hl-0": "busybox:1", "hl-1": "busybox:3"}
    # busybox:1 (current) and busybox:3 (update) are live; of the rest only one (busybox:2) is kept
    h.wait_for(lambda: revisions(h, ns, "sts", "hl") == [1, 2, 3], "three revisions")
    h.ok("-n", ns, "set", "image", "sts/hl", "c=busybox:4")
    h.ok("-n", ns, "rollout", "status", "sts/hl", "--timeout=60s")
    h.wait_for(lambda: revisions(h, ns, "sts", "hl") == [1, 3, 4], "the oldest unused revision dropped")

    # A fresh controller (no memory) recreates a pod below the partition from the stored older template.
    h.restart()
    uid = h.json("-n", ns, "get", "pod", "hl-0")["metadata"]["uid"]
    delete_pod(h, ns, "hl-0")
    h.wait_for(lambda: [p for p in h.pods(ns, "app=hl") if p["metadata"]["name"] == "hl-0" and
                        p["metadata"]["uid"] != uid], "hl-0 recreated")
    h.wait_for(lambda: images(h, ns, "hl").get("hl-0"), "hl-0 live")
    assert images(h, ns, "hl") == {"hl-0": "busybox:1", "hl-1": "busybox:4"}
