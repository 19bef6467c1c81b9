"""Namespace lifecycle and the ``default`` ServiceAccount.

``kubectl delete namespace`` must leave nothing behind. The namespace
controller's content deletion is also driven directly (``delete_content``) on a
live namespace, because the server does not yet keep deleted namespaces in a
Terminating phase for the controller to finish (docs/controllers.md): a custom
finalizer on one object shows that content is deleted through the API and that
what a finalizer holds is reported, not forced.
"""

from __future__ import annotations

import json
from typing import Any

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
    h.ok("delete", "namespace", ns)
    assert "NotFound" in h.kubectl("get", "namespace", ns).stderr
    for kind in ("configmaps", "secrets", "deployments", "jobs", "pods", "serviceaccounts"):
        out = h.json("get", kind, "-A", "--field-selector", f"metadata.namespace={ns}")
        assert out["items"] == [], kind


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
