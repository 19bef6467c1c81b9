"""The garbage collector through kubectl: ``kubectl delete --cascade=background|foreground|orphan`` and dangling owners.

Owners and dependents are ConfigMaps with ownerReferences written by the test,
so nothing but the garbage collector acts on them. A custom finalizer on a
grandchild holds a foreground deletion half-way, which shows its order (the
owner waits for its dependents) without timing anything.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.controllers.conftest import ControllerHarness

CONTROLLERS = {"garbagecollector"}
Obj = dict[str, Any]


def cm(h: ControllerHarness, ns: str, name: str, owners: list[Obj] | None = None,
       finalizers: list[str] | None = None) -> Obj:
    md: Obj = {"name": name, "namespace": ns}
    if owners:
        md["ownerReferences"] = owners
    if finalizers:
        md["finalizers"] = finalizers
    out: Obj = json.loads(h.ok("create", "-f", "-", "-o", "json",
                               input=json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": md})))
    return out


def ref(owner: Obj, block: bool = False) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "blockOwnerDeletion": block}


def names(h: ControllerHarness, ns: str) -> set[str]:
    out = h.json("-n", ns, "get", "configmaps")
    return {i["metadata"]["name"] for i in out["items"]} - {"kube-root-ca.crt"}  # type: ignore[attr-defined]


def test_background_deletes_dependents(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    owner = cm(h, ns, "owner")
    child = cm(h, ns, "child", [ref(owner)])
    cm(h, ns, "grandchild", [ref(child)])
    cm(h, ns, "bystander")
    h.ok("-n", ns, "delete", "configmap", "owner", "--cascade=background")
    h.wait_for(lambda: names(h, ns) == {"bystander"}, "child and grandchild collected")


def test_orphan_keeps_dependents_without_the_reference(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    owner = cm(h, ns, "owner")
    other = cm(h, ns, "other")
    cm(h, ns, "a", [ref(owner)])
    cm(h, ns, "b", [ref(owner), ref(other)])
    # kubectl waits until the owner is gone, which needs the collector to lift the orphan finalizer
    h.ok("-n", ns, "delete", "configmap", "owner", "--cascade=orphan")
    assert names(h, ns) == {"other", "a", "b"}
    a = h.json("-n", ns, "get", "configmap", "a")
    assert "ownerReferences" not in a["metadata"]  # type: ignore[operator]
    b = h.json("-n", ns, "get", "configmap", "b")
    assert [r["uid"] for r in b["metadata"]["ownerReferences"]] == [other["metadata"]["uid"]]  # type: ignore[index]


def test_foreground_waits_for_blocking_dependents(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    owner = cm(h, ns, "owner")
    child = cm(h, ns, "child", [ref(owner, block=True)])
    cm(h, ns, "grandchild", [ref(child, block=True)], finalizers=["example.com/hold"])
    r = h.kubectl("-n", ns, "delete", "configmap", "owner", "--cascade=foreground", "--wait=false")
    assert r.returncode == 0, r.stderr

    def held() -> bool:
        gc = h.json("-n", ns, "get", "configmap", "grandchild")["metadata"]
        return bool(gc.get("deletionTimestamp"))  # type: ignore[union-attr]
    h.wait_for(held, "the grandchild marked for deletion")
    # the grandchild's own finalizer holds it, so its owners wait, marked and in foreground deletion
    for name in ("owner", "child"):
        md: Any = h.json("-n", ns, "get", "configmap", name)["metadata"]
        assert md.get("deletionTimestamp") and "foregroundDeletion" in md.get("finalizers", []), md
    h.ok("-n", ns, "patch", "configmap", "grandchild", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    h.wait_for(lambda: names(h, ns) == set(), "the whole tree deleted")


def test_kubectl_foreground_returns_when_done(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    owner = cm(h, ns, "owner")
    cm(h, ns, "child", [ref(owner, block=True)])
    h.ok("-n", ns, "delete", "configmap", "owner", "--cascade=foreground")
    h.wait_for(lambda: names(h, ns) == set(), "child deleted")


def test_dangling_owner_is_collected_and_a_live_owner_kept(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "0a1b2c3d-0000-4000-8000-000000000000"}
    live = cm(h, ns, "live")
    cm(h, ns, "orphaned", [ghost])
    cm(h, ns, "half", [ghost, ref(live)])
    h.wait_for(lambda: "orphaned" not in names(h, ns), "the object with only a missing owner deleted")

    def ghost_dropped() -> bool:
        refs = h.json("-n", ns, "get", "configmap", "half")["metadata"].get("ownerReferences")  # type: ignore[union-attr]
        return [r["uid"] for r in refs] == [live["metadata"]["uid"]]
    h.wait_for(ghost_dropped, "the missing owner's reference removed")
    assert "half" in names(h, ns)


def test_namespaced_pods_owned_by_a_configmap(controllers: ControllerHarness, ns: str) -> None:
    """Dependents of another kind than their owner: unscheduled pods go at once."""
    h = controllers
    owner = cm(h, ns, "owner")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": ns,
                                                           "ownerReferences": [ref(owner, True)]},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    h.ok("create", "-f", "-", input=json.dumps(pod))
    h.ok("-n", ns, "delete", "configmap", "owner", "--cascade=foreground")

    def gone() -> bool:
        r = subprocess.run([*h.cluster.argv, "-n", ns, "get", "pod", "p"], capture_output=True, text=True)
        return r.returncode != 0 and "NotFound" in r.stderr
    h.wait_for(gone, "the pod deleted")


def test_foreground_spares_a_dependent_with_another_owner(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    owner, other = cm(h, ns, "owner"), cm(h, ns, "other")
    cm(h, ns, "shared", [ref(owner, block=True), ref(other)])
    cm(h, ns, "mine", [ref(owner, block=True)])
    h.ok("-n", ns, "delete", "configmap", "owner", "--cascade=foreground")
    h.wait_for(lambda: names(h, ns) == {"other", "shared"}, "the sole dependent deleted, the shared one kept")

    def owners() -> list[str]:
        md: Any = h.json("-n", ns, "get", "configmap", "shared")["metadata"]
        return [r["uid"] for r in md.get("ownerReferences") or []]
    h.wait_for(lambda: owners() == [other["metadata"]["uid"]], "the gone owner's reference dropped")
