"""The DaemonSet controller through kubectl: placement by selector and taints, rolling updates, status, events.

Nodes are Node objects; :mod:`tests.controllers.nodesim` binds the pods to the
nodes their affinity names and makes them Ready, as a scheduler and kubelets would.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from kubelite.controllers.daemonset_nodes import add_daemon_tolerations, pin_to_node, should_run, target_node
from kubelite.controllers.history import revision_data, revision_name, template_hash, template_of
from tests.controllers.conftest import ControllerHarness
from tests.controllers.nodesim import fake_nodes, node_object, simulate

CONTROLLERS = {"daemonset", "statefulset"}  # the drain test moves a StatefulSet's pods
Obj = dict[str, Any]
_ids = itertools.count()


def ds_yaml(name: str, image: str = "busybox:1", *, node_selector: dict[str, str] | None = None,
            strategy: Obj | None = None, tolerations: list[Obj] | None = None, min_ready: int = 0) -> str:
    spec: Obj = {"containers": [{"name": "c", "image": image}], "terminationGracePeriodSeconds": 30}
    if node_selector:
        spec["nodeSelector"] = node_selector
    if tolerations:
        spec["tolerations"] = tolerations
    ds: Obj = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
               "spec": {"selector": {"matchLabels": {"app": name}},
                        "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}
    if strategy:
        ds["spec"]["updateStrategy"] = strategy
    if min_ready:
        ds["spec"]["minReadySeconds"] = min_ready
    return json.dumps(ds)


@pytest.fixture
def names() -> Iterator[list[str]]:
    """Node names unique to the test (nodes are cluster-wide and every test's DaemonSets see them)."""
    i = next(_ids)
    yield [f"ds{i}-n{k}" for k in range(3)]


def pods_by_node(h: ControllerHarness, ns: str, app: str) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = {}
    for p in h.pods(ns, f"app={app}"):
        out.setdefault(target_node(p) or "", []).append(p)
    return out


def live(pods: list[Obj]) -> list[Obj]:
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def image_of(pod: Obj) -> str:
    return str(pod["spec"]["containers"][0]["image"])


def test_one_pod_per_matching_node(controllers: ControllerHarness, ns: str, names: list[str]) -> None:
    h = controllers
    a, b, c = names
    with fake_nodes(h, node_object(a, {"role": f"{ns}-x"}),
                    node_object(b, {"role": f"{ns}-x"}, taints=[{"key": "dedicated", "value": "db",
                                                                  "effect": "NoSchedule"}]),
                    node_object(c, {"role": f"{ns}-y"})), simulate(h, ns, names):
        h.ok("-n", ns, "apply", "-f", "-", input=ds_yaml("agent", node_selector={"role": f"{ns}-x"}))
        h.ok("-n", ns, "rollout", "status", "ds/agent", "--timeout=60s")
        by_node = pods_by_node(h, ns, "agent")
        assert sorted(by_node) == [a]  # b's taint is not tolerated, c's label does not match
        pod = by_node[a][0]
        assert pod["spec"]["nodeName"] == a
        assert pod["metadata"]["name"].startswith("agent-")
        assert pod["metadata"]["labels"]["controller-revision-hash"]
        ref = pod["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["name"], ref["controller"]) == ("DaemonSet", "agent", True)
        terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert terms == {"nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": [a]}]}]}
        tolerated = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
        assert {("node.kubernetes.io/unschedulable", "NoSchedule"), ("node.kubernetes.io/not-ready", "NoExecute"),
                ("node.kubernetes.io/disk-pressure", "NoSchedule")} <= tolerated
        st = h.json("-n", ns, "get", "ds", "agent")["status"]
        assert st["desiredNumberScheduled"] == st["currentNumberScheduled"] == st["numberReady"] == 1
        assert st["numberMisscheduled"] == 0

        # A node that starts matching gets a pod; one that stops matching loses it.
        h.ok("label", "node", c, f"role={ns}-x", "--overwrite")
        h.wait_for(lambda: c in pods_by_node(h, ns, "agent"), "a pod on the relabelled node")
        h.ok("label", "node", a, f"role={ns}-z", "--overwrite")
        h.wait_for(lambda: a not in pods_by_node(h, ns, "agent"), "the pod leaves the node that no longer matches")

        # A tolerated taint lets it in; NoSchedule alone keeps running pods, NoExecute evicts them.
        h.ok("-n", ns, "apply", "-f", "-", input=ds_yaml("agent", node_selector={"role": f"{ns}-x"}, tolerations=[
            {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]))
        h.wait_for(lambda: b in pods_by_node(h, ns, "agent"), "a pod on the node whose taint is now tolerated")
        h.ok("taint", "node", c, "maintenance=now:NoSchedule")
        h.wait_for(lambda: h.json("-n", ns, "get", "ds", "agent")["status"].get("numberMisscheduled") == 1,
                   "the pod on the NoSchedule-tainted node counted as misscheduled")
        assert live(pods_by_node(h, ns, "agent")[c])  # but left running
        h.ok("taint", "node", c, "evict=now:NoExecute")
        h.wait_for(lambda: c not in pods_by_node(h, ns, "agent"), "the pod evicted by the NoExecute taint")
        h.ok("-n", ns, "rollout", "status", "ds/agent", "--timeout=60s")

        # Cordoning does not matter to daemons (they tolerate node.kubernetes.io/unschedulable).
        h.ok("cordon", b)
        h.ok("-n", ns, "delete", "pod", live(pods_by_node(h, ns, "agent")[b])[0]["metadata"]["name"])
        h.wait_for(lambda: [p for p in live(pods_by_node(h, ns, "agent").get(b, []))
                            if p["spec"].get("nodeName") == b], "the daemon pod back on the cordoned node")

        out = h.ok("-n", ns, "get", "ds", "agent")
        assert out.split("\n")[0].split()[:6] == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE"]
        described = h.ok("-n", ns, "describe", "ds", "agent")
        assert "SuccessfulCreate" in described and "Created pod: agent-" in described
        assert "SuccessfulDelete" in described
        h.ok("-n", ns, "delete", "ds", "agent")


def test_rolling_update_within_max_unavailable(controllers: ControllerHarness, ns: str, names: list[str]) -> None:
    h = controllers
    with fake_nodes(h, *(node_object(n, {"pool": ns}) for n in names)), simulate(h, ns, names) as sim:
        h.ok("-n", ns, "apply", "-f", "-", input=ds_yaml("web", node_selector={"pool": ns}))
        h.ok("-n", ns, "rollout", "status", "ds/web", "--timeout=60s")
        old_hash = h.pods(ns, "app=web")[0]["metadata"]["labels"]["controller-revision-hash"]

        sim.hold = lambda pod: image_of(pod) == "busybox:2"  # new pods start but never turn Ready
        h.ok("-n", ns, "set", "image", "ds/web", "c=busybox:2")
        new = h.wait_for(lambda: [p for p in h.pods(ns, "app=web") if image_of(p) == "busybox:2"], "a new pod")
        # maxUnavailable=1 (the default): one node at a time, so the other two still run the old pods.
        assert len(new) == 1
        old = [p for p in live(h.pods(ns, "app=web")) if image_of(p) == "busybox:1"]
        assert len(old) == 2
        assert new[0]["metadata"]["labels"]["controller-revision-hash"] != old_hash
        r = h.kubectl("-n", ns, "rollout", "status", "ds/web", "--timeout=1s")
        assert r.returncode != 0 and "1 out of 3 new pods have been updated" in r.stdout + r.stderr

        sim.hold = lambda pod: False
        sim.poke()
        h.ok("-n", ns, "rollout", "status", "ds/web", "--timeout=60s")
        pods = live(h.pods(ns, "app=web"))
        assert sorted(target_node(p) or "" for p in pods) == sorted(names)
        assert {image_of(p) for p in pods} == {"busybox:2"}
        st = h.json("-n", ns, "get", "ds", "web")["status"]
        assert st["updatedNumberScheduled"] == st["numberAvailable"] == 3
        h.ok("-n", ns, "delete", "ds", "web")


def test_surge_starts_the_new_pod_beside_the_old(controllers: ControllerHarness, ns: str, names: list[str]) -> None:
    h = controllers
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    with fake_nodes(h, *(node_object(n, {"pool": ns}) for n in names)), simulate(h, ns, names) as sim:
        h.ok("-n", ns, "apply", "-f", "-", input=ds_yaml("px", node_selector={"pool": ns}, strategy=strategy))
        h.ok("-n", ns, "rollout", "status", "ds/px", "--timeout=60s")
        sim.hold = lambda pod: image_of(pod) == "busybox:2"
        h.ok("-n", ns, "set", "image", "ds/px", "c=busybox:2")
        new = h.wait_for(lambda: [p for p in h.pods(ns, "app=px") if image_of(p) == "busybox:2"], "a surge pod")
        node = target_node(new[0])
        # The old pod on that node keeps serving until the new one is available.
        assert sorted(image_of(p) for p in live(pods_by_node(h, ns, "px")[node or ""])) == ["busybox:1", "busybox:2"]
        assert len(live(h.pods(ns, "app=px"))) == 4
        sim.hold = lambda pod: False
        sim.poke()
        h.ok("-n", ns, "rollout", "status", "ds/px", "--timeout=60s")
        h.wait_for(lambda: len(h.pods(ns, "app=px")) == 3, "the old pods gone")
        assert {image_of(p) for p in h.pods(ns, "app=px")} == {"busybox:2"}
        h.ok("-n", ns, "delete", "ds", "px")


def test_on_delete_and_failed_pods(controllers: ControllerHarness, ns: str, names: list[str]) -> None:
    h = controllers
    with fake_nodes(h, *(node_object(n, {"pool": ns}) for n in names[:2])), simulate(h, ns, names[:2]):
        h.ok("-n", ns, "apply", "-f", "-", input=ds_yaml("od", node_selector={"pool": ns},
                                                         strategy={"type": "OnDelete"}, min_ready=1))
        # Available only minReadySeconds after Ready, a moment no event marks: the controller looks again then.
        h.wait_for(lambda: h.json("-n", ns, "get", "ds", "od").get("status", {}).get("numberAvailable") == 2,
                   "two available pods")
        h.ok("-n", ns, "set", "image", "ds/od", "c=busybox:2")
        h.wait_for(lambda: h.json("-n", ns, "get", "ds", "od")["status"].get("updatedNumberScheduled") == 0,
                   "the new template observed and counted as not rolled out")
        st = h.json("-n", ns, "get", "ds", "od")
        assert st["status"]["observedGeneration"] == st["metadata"]["generation"]
        assert {image_of(p) for p in h.pods(ns, "app=od")} == {"busybox:1"}  # OnDelete: nothing replaced
        victim = pods_by_node(h, ns, "od")[names[0]][0]["metadata"]["name"]
        h.ok("-n", ns, "delete", "pod", victim)
        h.wait_for(lambda: [image_of(p) for p in live(pods_by_node(h, ns, "od").get(names[0], []))] == ["busybox:2"],
                   "the deleted pod replaced from the new template")

        # A failed daemon pod is deleted and replaced (a kubelet would report the phase).
        failed = pods_by_node(h, ns, "od")[names[1]][0]["metadata"]["name"]
        h.ok("-n", ns, "patch", "pod", failed, "--subresource=status", "--type=merge",
             "-p", '{"status":{"phase":"Failed"}}')
        h.wait_for(lambda: [p["metadata"]["name"] for p in live(pods_by_node(h, ns, "od").get(names[1], []))
                            if p["metadata"]["name"] != failed], "a replacement for the failed pod")
        assert "FailedDaemonPod" in h.ok("-n", ns, "get", "events", "--field-selector", "involvedObject.name=od")
        h.ok("-n", ns, "delete", "ds", "od")


def test_drain_evicts_all_but_daemon_pods(controllers: ControllerHarness, ns: str, names: list[str]) -> None:
    """``kubectl drain --ignore-daemonsets``: cordon, evict (pods/eviction) the rest, leave the daemons."""
    h = controllers
    a, b = names[:2]
    sts = json.dumps({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {
        "replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
        "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
    with fake_nodes(h, node_object(a, {"pool": ns}), node_object(b, {"pool": ns})), simulate(h, ns, [a]) as sim:
        h.ok("-n", ns, "apply", "-f", "-", input=ds_yaml("agent", node_selector={"pool": ns}))
        h.ok("-n", ns, "apply", "-f", "-", input=sts)
        h.ok("-n", ns, "rollout", "status", "sts/db", "--timeout=60s")
        h.ok("-n", ns, "rollout", "status", "ds/agent", "--timeout=60s")
        assert {p["spec"]["nodeName"] for p in h.pods(ns, "app=db")} == {a}
        daemon = pods_by_node(h, ns, "agent")[a][0]["metadata"]["name"]

        sim.nodes = [b]  # the stand-in scheduler now places new pods on the other node
        r = h.kubectl("drain", a, "--ignore-daemonsets", "--timeout=60s", timeout=90)
        assert r.returncode == 0, r.stderr
        assert f"node/{a} drained" in r.stdout and f"ignoring DaemonSet-managed Pods: {ns}/{daemon}" in r.stderr
        h.wait_for(lambda: sorted(p["metadata"]["name"] for p in live(h.pods(ns, "app=db"))
                                  if p["spec"].get("nodeName") == b) == ["db-0", "db-1"], "db pods moved to the other node")
        assert h.json("get", "node", a)["spec"]["unschedulable"] is True
        assert daemon in [p["metadata"]["name"] for p in live(h.pods(ns, "app=agent"))]  # daemons stay
        h.ok("uncordon", a)
        assert not h.json("get", "node", a)["spec"].get("unschedulable")
        h.ok("-n", ns, "delete", "ds", "agent")


def test_the_scheduler_binds_daemon_pods(controllers: ControllerHarness, ns: str, names: list[str]) -> None:
    """With kubelite's real scheduler: it binds each pod to the node its affinity names, cordoned or not."""
    from kubelite.scheduler.scheduler import start_scheduler

    h = controllers
    stop = h.run(start_scheduler(h.client))
    try:
        with fake_nodes(h, *(node_object(n, {"pool": ns}, unschedulable=(n == names[2])) for n in names)), \
                simulate(h, ns, names, bind=False):
            h.ok("-n", ns, "apply", "-f", "-", input=ds_yaml("sched", node_selector={"pool": ns}))
            h.ok("-n", ns, "rollout", "status", "ds/sched", "--timeout=60s")
            pods = h.pods(ns, "app=sched")
            assert sorted(p["spec"]["nodeName"] for p in pods) == sorted(names)
            assert all(p["spec"]["nodeName"] == target_node(p) for p in pods)
            h.ok("-n", ns, "delete", "ds", "sched")
    finally:
        h.run(stop())



# --- placement predicates and revision hashes, without a server --------------------------------------------

def _node(labels: dict[str, str] | None = None, taints: list[Obj] | None = None) -> Obj:
    return node_object("n1", labels, taints)


@pytest.mark.parametrize(("spec", "node", "verdict"), [
    ({}, _node(), (True, True)),
    ({"nodeSelector": {"disk": "ssd"}}, _node({"disk": "hdd"}), (False, False)),
    ({"nodeName": "other"}, _node(), (False, False)),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
        {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["8"]}]}]}}}},
     _node({"cores": "16"}), (True, True)),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n1"]}]}]}}}},
     _node(), (False, False)),
    ({}, _node(taints=[{"key": "gpu", "effect": "NoSchedule"}]), (False, True)),
    ({}, _node(taints=[{"key": "gpu", "effect": "NoExecute"}]), (False, False)),
    ({}, _node(taints=[{"key": "gpu", "effect": "PreferNoSchedule"}]), (True, True)),
    ({"tolerations": [{"key": "gpu", "operator": "Exists"}]}, _node(taints=[{"key": "gpu", "effect": "NoExecute"}]),
     (True, True)),
    ({"tolerations": [{"key": "gpu", "value": "a100", "effect": "NoSchedule"}]},
     _node(taints=[{"key": "gpu", "value": "h100", "effect": "NoSchedule"}]), (False, True)),
    ({}, _node(taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                       {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]), (True, True)),
])
def test_should_run(spec: Obj, node: Obj, verdict: tuple[bool, bool]) -> None:
    assert should_run(spec, node) == verdict


def test_daemon_pod_spec_helpers() -> None:
    spec: Obj = {"hostNetwork": True, "tolerations": [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}]}}}}
    add_daemon_tolerations(spec)
    pin_to_node(spec, "n7")
    not_ready = [t for t in spec["tolerations"] if t["key"] == "node.kubernetes.io/not-ready"]
    assert not_ready == [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}]
    assert any(t["key"] == "node.kubernetes.io/network-unavailable" for t in spec["tolerations"])
    assert target_node({"spec": spec}) == "n7"
    assert target_node({"spec": {"nodeName": "n2", **spec}}) == "n2"
    assert target_node({"spec": {}}) is None


def test_template_hash_is_stable_and_sensitive() -> None:
    a = {"metadata": {"labels": {"app": "x", "tier": "web"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}
    b = {"spec": {"containers": [{"image": "i:1", "name": "c"}]}, "metadata": {"labels": {"tier": "web", "app": "x"}}}
    assert template_hash(a) == template_hash(b)
    assert set(template_hash(a)) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert template_hash(a) != template_hash({**a, "spec": {"containers": [{"name": "c", "image": "i:2"}]}})
    assert template_hash(a) != template_hash(a, collision_count=1)
    data = revision_data(a)
    assert data == {"spec": {"template": {**a, "$patch": "replace"}}}
    assert template_of({"data": data}) == a and template_of({"data": {}}) is None
    assert revision_name("x" * 300, "abc") == "x" * 223 + "-abc"


def history(h: ControllerHarness, ns: str, name: str) -> list[int]:
    """The REVISION column of ``kubectl rollout history ds/NAME``."""
    out = h.ok("-n", ns, "rollout", "history", f"ds/{name}").splitlines()
    header = out.index(next(line for line in out if line.startswith("REVISION")))
    return [int(line.split()[0]) for line in out[header + 1:] if line.strip()]


def test_rollout_history_and_undo(controllers: ControllerHarness, ns: str, names: list[str]) -> None:
    """Templates are kept as ControllerRevisions: ``kubectl rollout history/undo ds/x`` read and apply them."""
    h = controllers
    with fake_nodes(h, *(node_object(n, {"pool": ns}) for n in names[:2])), simulate(h, ns, names[:2]):
        h.ok("-n", ns, "apply", "-f", "-", input=ds_yaml("hist", node_selector={"pool": ns}))
        h.ok("-n", ns, "rollout", "status", "ds/hist", "--timeout=60s")
        h.ok("-n", ns, "annotate", "ds/hist", "kubernetes.io/change-cause=to busybox 2")
        h.ok("-n", ns, "set", "image", "ds/hist", "c=busybox:2")
        h.ok("-n", ns, "rollout", "status", "ds/hist", "--timeout=60s")
        h.wait_for(lambda: history(h, ns, "hist") == [1, 2], "two revisions")
        assert "to busybox 2" in h.ok("-n", ns, "rollout", "history", "ds/hist")
        assert "busybox:1" in h.ok("-n", ns, "rollout", "history", "ds/hist", "--revision=1")
        revs = h.json("-n", ns, "get", "controllerrevisions")["items"]
        pod_hashes = {p["metadata"]["labels"]["controller-revision-hash"] for p in live(h.pods(ns, "app=hist"))}
        newest = max(revs, key=lambda r: r["revision"])
        assert pod_hashes == {newest["metadata"]["labels"]["controller.kubernetes.io/hash"]}
        assert newest["metadata"]["name"] == f"hist-{pod_hashes.pop()}"
        assert newest["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"

        assert "daemonset.apps/hist rolled back" in h.ok("-n", ns, "rollout", "undo", "ds/hist")
        h.wait_for(lambda: h.json("-n", ns, "get", "ds", "hist")["status"].get("observedGeneration") == 3,
                   "the undo observed")
        h.ok("-n", ns, "rollout", "status", "ds/hist", "--timeout=60s")
        h.wait_for(lambda: {image_of(p) for p in h.pods(ns, "app=hist")} == {"busybox:1"}, "the old image back")
        h.wait_for(lambda: history(h, ns, "hist") == [2, 3], "the old revision renumbered")
        h.ok("-n", ns, "rollout", "undo", "ds/hist", "--to-revision=3")  # the current template: no new revision
        assert history(h, ns, "hist") == [2, 3]
        err = h.fail("-n", ns, "rollout", "undo", "ds/hist", "--to-revision=7")
        assert "unable to find specified revision 7 in history" in err
        h.ok("-n", ns, "delete", "ds", "hist")


def test_hash_collision_raises_the_collision_count(controllers: ControllerHarness, ns: str) -> None:
    """A revision name taken by another template is never reused: ``status.collisionCount`` goes up instead,
    which gives the template a new hash (and so a new revision name), as in Kubernetes."""
    h = controllers
    nowhere = {"pool": f"{ns}-none"}  # no node matches: revisions only, no pods
    h.ok("-n", ns, "apply", "-f", "-", input=ds_yaml("first", node_selector=nowhere))
    rev = h.wait_for(lambda: h.json("-n", ns, "get", "controllerrevisions")["items"], "first's revision")[0]
    hash_ = rev["metadata"]["labels"]["controller.kubernetes.io/hash"]
    taken = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": f"second-{hash_}"},
             "data": {"spec": {"template": {"$patch": "replace"}}}, "revision": 1}
    h.ok("-n", ns, "create", "-f", "-", input=json.dumps(taken))
    second = json.loads(ds_yaml("second", node_selector=nowhere))
    second["spec"]["template"]["metadata"]["labels"] = {"app": "first"}  # the same template as first's
    second["spec"]["selector"] = {"matchLabels": {"app": "first"}}
    h.ok("-n", ns, "apply", "-f", "-", input=json.dumps(second))
    h.wait_for(lambda: h.json("-n", ns, "get", "ds", "second").get("status", {}).get("collisionCount") == 1,
               "the collision counted")
    owned = h.wait_for(lambda: [r for r in h.json("-n", ns, "get", "controllerrevisions")["items"]
                                if (r["metadata"].get("ownerReferences") or [{}])[0].get("name") == "second"],
                       "second's own revision")
    assert owned[0]["metadata"]["name"] != f"second-{hash_}"
    assert h.json("-n", ns, "get", "controllerrevision", f"second-{hash_}")["data"] == taken["data"]  # untouched
    h.ok("-n", ns, "delete", "ds", "first", "second")
