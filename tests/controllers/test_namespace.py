"""Namespace lifecycle and the ``default`` ServiceAccount.

``kubectl delete namespace`` must leave nothing behind, and while the namespace
controller empties it the namespace is there, Terminating, refusing new
content with kube's 403. What holds a namespace back is made to hold by the
test itself (a pod with a finalizer of the test's, or a ``metadata.finalizers``
entry on the namespace), so nothing races: the namespace stays Terminating
until the test lifts that finalizer. ``delete_content`` is also driven
directly, and a custom finalizer on one object shows that what a finalizer
holds is reported, not forced. The server's half without controllers (finalize,
second DELETE, bad input) is tests/api/test_namespace_lifecycle.py.
"""

from __future__ import annotations

import json
from typing import Any

from kubelite.api.client import resource_path
from kubelite.controllers.base import ControllerContext
from kubelite.controllers.informers import SharedInformers
from kubelite.controllers.namespace import NamespaceController
from kubelite.controllers.options import ControllerOptions
from tests.controllers.conftest import ControllerHarness

CONTROLLERS = {"namespace", "serviceaccount", "garbagecollector"}
Obj = dict[str, Any]


def sa_uid(h: ControllerHarness, ns: str) -> str | None:
    r = h.kubectl("-n", ns, "get", "serviceaccount", "default", "-o", "jsonpath={.metadata.uid}")
    return r.stdout.strip() if r.returncode == 0 else None


def fill(h: ControllerHarness, ns: str) -> None:
    h.ok("-n", ns, "create", "configmap", "c1", "--from-literal=a=b")
    h.ok("-n", ns, "create", "secret", "generic", "s1", "--from-literal=a=b")
    h.ok("-n", ns, "create", "deployment", "d1", "--image=busybox")
    h.ok("-n", ns, "create", "job", "j1", "--image=busybox", "--", "true")
    h.ok("-n", ns, "run", "p1", "--image=busybox")


def test_default_service_account_is_kept(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    first = h.wait_for(lambda: sa_uid(h, ns), "the default ServiceAccount")
    h.ok("-n", ns, "delete", "serviceaccount", "default")
    second = h.wait_for(lambda: sa_uid(h, ns), "the default ServiceAccount re-created")
    assert second != first


def test_kubectl_delete_namespace_removes_everything(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    fill(h, ns)
    h.ok("delete", "namespace", ns)  # kubectl waits until the namespace is gone
    assert "NotFound" in h.kubectl("get", "namespace", ns).stderr
    for kind in ("configmaps", "secrets", "deployments", "replicasets", "jobs", "pods", "serviceaccounts", "events"):
        out = h.json("get", kind, "-A", "--field-selector", f"metadata.namespace={ns}")
        assert out["items"] == [], kind


def test_terminating_namespace_refuses_new_content(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    h.ok("-n", ns, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "held", "finalizers": ["example.com/hold"]},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    h.ok("-n", ns, "create", "configmap", "before")
    h.ok("delete", "namespace", ns, "--wait=false")
    assert h.ok("get", "namespace", ns).split()[3:5] == [ns, "Terminating"]
    r = h.kubectl("-n", ns, "create", "configmap", "late")
    assert r.returncode == 1
    assert r.stderr.strip() == (f'error: failed to create configmap: configmaps "late" is forbidden: unable to create '
                                f"new content in namespace {ns} because it is being terminated")
    h.wait_for(lambda: h.json("-n", ns, "get", "configmaps")["items"] == [], "the configmap deleted")
    pod: Any = h.json("-n", ns, "get", "pod", "held")
    assert pod["metadata"]["deletionTimestamp"]  # deleted, held by the test's finalizer, so the namespace waits
    assert h.ok("get", "namespace", ns, "-o", "jsonpath={.status.phase}") == "Terminating"
    h.ok("-n", ns, "patch", "pod", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    h.wait_for(lambda: "NotFound" in h.kubectl("get", "namespace", ns).stderr, "the namespace gone")


def test_orphan_delete_of_a_namespace(controllers: ControllerHarness, ns: str) -> None:
    """``--cascade=orphan`` puts kube's ``orphan`` finalizer on the namespace; the garbage collector lifts it, the
    namespace controller empties and finalizes it, and it goes."""
    h = controllers
    fill(h, ns)
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Orphan"}  # kubectl --cascade=orphan
    out = h.run(h.client.delete(resource_path("v1", "namespaces", None, ns), body))
    assert out["metadata"]["finalizers"] == ["orphan"] and out["status"]["phase"] == "Terminating"
    h.wait_for(lambda: "NotFound" in h.kubectl("get", "namespace", ns).stderr, "the namespace gone")
    assert h.json("get", "pods", "-A", "--field-selector", f"metadata.namespace={ns}")["items"] == []


def test_delete_content_reports_what_finalizers_hold(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    fill(h, ns)
    h.ok("-n", ns, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}))
    ctrl = NamespaceController(ControllerContext(h.client, SharedInformers(h.client), ControllerOptions()))
    h.run(ctrl.discover())
    assert {"configmaps", "pods", "events", "jobs"} <= {r.plural for r in ctrl.resources}
    assert "namespaces" not in {r.plural for r in ctrl.resources}  # only namespaced kinds

    def only_held() -> Any:
        left = h.run(ctrl.delete_content(ns))
        return left if dict(left.resources) == {"configmaps": 1} else None
    left = h.wait_for(only_held, "everything but the held configmap deleted")
    assert dict(left.finalizers) == {"example.com/hold": 1} and not left.errors
    held: Any = h.json("-n", ns, "get", "configmap", "held")
    assert held["metadata"].get("deletionTimestamp")
    h.ok("-n", ns, "patch", "configmap", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    h.wait_for(lambda: not h.run(ctrl.delete_content(ns)), "the namespace empty")
    h.run(ctrl.recorder.stop())


def test_terminating_namespace_is_emptied_by_the_controller(controllers: ControllerHarness) -> None:
    """A namespace that a finalizer of our own (``metadata.finalizers``) holds after DELETE is emptied by the
    namespace controller, which reports what finalizers hold back in the namespace's conditions and lifts its
    own ``kubernetes``; the namespace goes when our finalizer is lifted too."""
    h = controllers
    name = "held-ns"
    h.ok("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": name, "finalizers": ["example.com/keep"]}}))
    fill(h, name)
    h.ok("-n", name, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}))
    h.ok("delete", "namespace", name, "--wait=false")

    def condition(type_: str) -> Any:
        ns: Any = h.json("get", "namespace", name)
        return next((c for c in (ns.get("status") or {}).get("conditions") or [] if c["type"] == type_), {})
    h.wait_for(lambda: condition("NamespaceFinalizersRemaining").get("reason") == "SomeFinalizersRemain",
               "the held configmap reported")
    assert "example.com/hold in 1 resource instances" in condition("NamespaceFinalizersRemaining")["message"]
    assert condition("NamespaceContentRemaining")["message"] == \
        "Some resources are remaining: configmaps has 1 resource instances"
    assert "Terminating" in h.ok("get", "namespace", name)
    for kind in ("secrets", "deployments", "jobs", "pods", "serviceaccounts"):
        assert h.json("-n", name, "get", kind)["items"] == [], kind
    h.ok("-n", name, "patch", "configmap", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    h.wait_for(lambda: condition("NamespaceContentRemaining").get("reason") == "ContentRemoved", "content removed")
    assert h.json("-n", name, "get", "configmaps")["items"] == []
    h.wait_for(lambda: h.json("get", "namespace", name)["spec"] == {}, "the controller's finalizer lifted")
    assert h.ok("get", "namespace", name, "-o", "jsonpath={.status.phase}") == "Terminating"
    h.ok("patch", "namespace", name, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    h.wait_for(lambda: "NotFound" in h.kubectl("get", "namespace", name).stderr, "the namespace gone")
