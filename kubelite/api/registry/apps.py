"""apps/v1 workloads: Deployment, ReplicaSet, StatefulSet, DaemonSet.

They share one shape (a selector, a pod template, replicas) and so one base
strategy: defaulting of the template's pod spec, the selector/template label
match check, ``generation`` bumps on spec changes (the controllers compare it
with ``status.observedGeneration``) and the ``scale``/``status`` subresources.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kubelite.api.errors import Cause, invalid_value, not_supported, required
from kubelite.api.meta import age, validate_labels
from kubelite.api.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy
from kubelite.api.registry.podspec import default_pod_spec, validate_pod_spec


def selector_matches(selector: Obj, labels: dict[str, str]) -> bool:
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, vals = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in vals:
            return False
        if op == "NotIn" and labels.get(key) in vals:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _go_map(m: dict[str, str]) -> str:
    return "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(m.items())) + "}"


class Workload(Strategy):
    group = "apps"
    categories = ("all",)
    subresources: ClassVar[tuple[str, ...]] = ("status", "scale")
    default_replicas: int | None = 1
    always_shown: ClassVar[dict[str, dict[str, int]]] = {"status": {}}

    def default(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        if self.default_replicas is not None:
            spec.setdefault("replicas", self.default_replicas)
        tmpl = spec.get("template")
        if isinstance(tmpl, dict) and isinstance(tmpl.setdefault("spec", {}), dict):
            tmpl.setdefault("metadata", {})
            default_pod_spec(tmpl["spec"])
        self.default_workload(spec)

    def default_workload(self, spec: Obj) -> None:
        pass

    def validate_spec(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [required("spec")]
        out: list[Cause] = []
        sel = spec.get("selector")
        tmpl = spec.get("template")
        if not isinstance(sel, dict) or not (sel.get("matchLabels") or sel.get("matchExpressions")):
            out.append(required("spec.selector"))
            if isinstance(sel, dict):
                out.append(invalid_value("spec.selector", "null", "empty selector is invalid for deployment"))
        if not isinstance(tmpl, dict):
            return out + [required("spec.template")]
        labels = (tmpl.get("metadata") or {}).get("labels") or {}
        out += validate_labels(labels, "spec.template.metadata.labels")
        if isinstance(sel, dict) and isinstance(labels, dict) and not selector_matches(sel, labels):
            out.append(invalid_value("spec.template.metadata.labels", _go_map(labels),
                                     "`selector` does not match template `labels`"))
        out += validate_pod_spec(tmpl.get("spec"), "spec.template.spec")
        rp = (tmpl.get("spec") or {}).get("restartPolicy") if isinstance(tmpl.get("spec"), dict) else None
        if rp in ("Never", "OnFailure"):  # workload pods are restarted in place, never left finished
            out.append(not_supported("spec.template.spec.restartPolicy", rp, ["Always"]))
        replicas = spec.get("replicas")
        if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
            out.append(invalid_value("spec.replicas", replicas, "must be greater than or equal to 0"))
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        out = self.validate(new)
        a, b = (new.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector")
        if b is not None and a != b:
            out.append(invalid_value("spec.selector", str(a), "field is immutable"))
        return out

    @staticmethod
    def containers_cells(obj: Obj) -> list[str]:
        spec = obj.get("spec", {})
        cs = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        return [",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs),
                ",".join(f"{k}={v}" for k, v in sel.items()) or "<none>"]


WIDE = [Column("Containers", priority=1), Column("Images", priority=1), Column("Selector", priority=1)]


class Deployment(Workload):
    kind, plural, singular = "Deployment", "deployments", "deployment"
    short_names = ("deploy",)

    def default_workload(self, spec: Obj) -> None:
        strat = spec.setdefault("strategy", {})
        strat.setdefault("type", "RollingUpdate")
        if strat["type"] == "RollingUpdate":
            ru = strat.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", "25%")
            ru.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Ready"), Column("Up-to-date", "integer"), Column("Available", "integer"),
                AGE_COLUMN, *WIDE]

    def cells(self, obj: Obj) -> list[Any]:
        st = obj.get("status", {})
        want = obj.get("spec", {}).get("replicas", 0)
        return [obj["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{want}", st.get("updatedReplicas", 0),
                st.get("availableReplicas", 0), age(obj), *self.containers_cells(obj)]


class ReplicaSet(Workload):
    kind, plural, singular = "ReplicaSet", "replicasets", "replicaset"
    short_names = ("rs",)
    always_shown: ClassVar[dict[str, dict[str, int]]] = {"status": {"replicas": 0}}

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Desired", "integer"), Column("Current", "integer"), Column("Ready", "integer"),
                AGE_COLUMN, *WIDE]

    def cells(self, obj: Obj) -> list[Any]:
        st = obj.get("status", {})
        return [obj["metadata"]["name"], obj.get("spec", {}).get("replicas", 0), st.get("replicas", 0),
                st.get("readyReplicas", 0), age(obj), *self.containers_cells(obj)]


class StatefulSet(Workload):
    kind, plural, singular = "StatefulSet", "statefulsets", "statefulset"
    short_names = ("sts",)
    always_shown: ClassVar[dict[str, dict[str, int]]] = {"status": {"replicas": 0, "availableReplicas": 0}}

    def default_workload(self, spec: Obj) -> None:
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        spec.setdefault("revisionHistoryLimit", 10)

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Ready"), AGE_COLUMN, *WIDE[:2]]

    def cells(self, obj: Obj) -> list[Any]:
        st = obj.get("status", {})
        return [obj["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{obj.get('spec', {}).get('replicas', 0)}",
                age(obj), *self.containers_cells(obj)[:2]]


class DaemonSet(Workload):
    kind, plural, singular = "DaemonSet", "daemonsets", "daemonset"
    short_names = ("ds",)
    subresources: ClassVar[tuple[str, ...]] = ("status",)
    default_replicas = None
    always_shown: ClassVar[dict[str, dict[str, int]]] = {"status": {
        "currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0}}

    def default_workload(self, spec: Obj) -> None:
        spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        spec.setdefault("revisionHistoryLimit", 10)

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Desired", "integer"), Column("Current", "integer"), Column("Ready", "integer"),
                Column("Up-to-date", "integer"), Column("Available", "integer"), Column("Node Selector"),
                AGE_COLUMN, *WIDE]

    def cells(self, obj: Obj) -> list[Any]:
        st = obj.get("status", {})
        ns = ((obj.get("spec", {}).get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
        return [obj["metadata"]["name"], st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0),
                st.get("numberReady", 0), st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0),
                ",".join(f"{k}={v}" for k, v in ns.items()) or "<none>", age(obj), *self.containers_cells(obj)]
