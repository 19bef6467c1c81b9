"""policy/v1 PodDisruptionBudget: how many of an application's pods voluntary evictions must leave standing.

The API only checks the budget's shape, as kube-apiserver's ``policy``
strategy does, and keeps ``status`` for the disruption controller (a status
subresource, so an update of the spec never rewinds what the controller and
the eviction subresource wrote). Two deliberate choices:

- exactly one of ``minAvailable``/``maxUnavailable`` must be given. Kubernetes
  only forbids both; a budget with neither protects nothing and is almost
  always a mistake, so it is refused with a clear message instead;
- an empty selector is kept as ``{}`` and, as in policy/v1, selects every pod
  of the namespace; no selector selects none.

``status`` starts from the values Kubernetes' defaulting gives (zeros), so a
budget the controller has not seen yet already reads "0 allowed disruptions"
and the eviction subresource refuses until it has been computed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from kubelite.api.errors import Cause, invalid_value, not_supported
from kubelite.api.meta import age, validate_labels
from kubelite.api.registry.apps import selector_matches
from kubelite.api.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy

EVICTION_POLICIES = ["AlwaysAllow", "IfHealthyBudget"]
SELECTOR_OPERATORS = ["DoesNotExist", "Exists", "In", "NotIn"]
_PERCENT = re.compile(r"^[0-9]+%$")


def validate_int_or_percent(value: object, path: str) -> list[Cause]:
    """kube's ``ValidatePositiveIntOrPercent`` and ``IsNotMoreThan100Percent``."""
    if isinstance(value, bool):
        return [invalid_value(path, value, "must be an integer or percentage (e.g '5%')")]
    if isinstance(value, int):
        return [] if value >= 0 else [invalid_value(path, value, "must be greater than or equal to 0")]
    if isinstance(value, str):
        if not _PERCENT.match(value):
            return [invalid_value(path, value, "must be an integer or percentage (e.g '5%')")]
        if int(value[:-1]) > 100:
            return [invalid_value(path, value, "must not be greater than 100%")]
        return []
    return [invalid_value(path, value, "must be an integer or percentage (e.g '5%')")]


def validate_label_selector(sel: object, path: str) -> list[Cause]:
    """A ``metav1.LabelSelector``: labels in matchLabels, a known operator and the values it needs per expression."""
    if not isinstance(sel, dict):
        return [invalid_value(path, sel, "must be an object")]
    out = validate_labels(sel.get("matchLabels") or {}, f"{path}.matchLabels")
    exprs = sel.get("matchExpressions") or []
    if not isinstance(exprs, list):
        return out + [invalid_value(f"{path}.matchExpressions", exprs, "must be a list")]
    for i, e in enumerate(exprs):
        p = f"{path}.matchExpressions[{i}]"
        if not isinstance(e, dict):
            out.append(invalid_value(p, e, "must be an object"))
            continue
        op, values = e.get("operator"), e.get("values") or []
        if op not in SELECTOR_OPERATORS:
            out.append(not_supported(f"{p}.operator", op, SELECTOR_OPERATORS))
        elif op in ("In", "NotIn") and not values:
            out.append(Cause("FieldValueRequired", f"{p}.values",
                             "Required value: must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist") and values:
            out.append(Cause("FieldValueForbidden", f"{p}.values",
                             "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        out += validate_labels({str(e.get("key") or ""): "x"}, f"{p}.key") if e.get("key") else \
            [Cause("FieldValueRequired", f"{p}.key", "Required value")]
    return out


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def budget_selects(pdb: Obj, labels: dict[str, str]) -> bool:
    selector = (pdb.get("spec") or {}).get("selector")
    return isinstance(selector, dict) and selector_matches(selector, labels)


def with_condition(status: Obj, allowed: bool, reason: str, message: str = "") -> None:
    """kube's ``UpdateDisruptionAllowedCondition``: the transition time moves only when the status flips."""
    want = "True" if allowed else "False"
    conds = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    old = next((c for c in conds if c.get("type") == "DisruptionAllowed"), None)
    if old is not None and old.get("status") == want and old.get("reason") == reason and \
            old.get("message", "") == message and old.get("observedGeneration") == status.get("observedGeneration", 0):
        return
    cond = {"type": "DisruptionAllowed", "status": want, "reason": reason, "message": message,
            "observedGeneration": status.get("observedGeneration", 0),
            "lastTransitionTime": old["lastTransitionTime"] if old is not None and old.get("status") == want
            and old.get("lastTransitionTime") else now()}
    status["conditions"] = [c for c in conds if c.get("type") != "DisruptionAllowed"] + [cond]


def _shown(v: Any) -> str:
    return "N/A" if v is None else str(v)


class PodDisruptionBudget(Strategy):
    group, kind, plural, singular = "policy", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget"
    short_names = ("pdb",)
    subresources: ClassVar[tuple[str, ...]] = ("status",)

    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}

    def validate_spec(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [invalid_value("spec", spec, "must be an object")]
        out: list[Cause] = []
        has_min, has_max = spec.get("minAvailable") is not None, spec.get("maxUnavailable") is not None
        if has_min and has_max:
            out.append(Cause("FieldValueInvalid", "spec", "Invalid value: minAvailable and maxUnavailable "
                                                          "cannot be both set"))
        elif not has_min and not has_max:
            out.append(Cause("FieldValueRequired", "spec",
                             "Required value: exactly one of minAvailable or maxUnavailable must be set"))
        for key in ("minAvailable", "maxUnavailable"):
            if spec.get(key) is not None:
                out += validate_int_or_percent(spec[key], f"spec.{key}")
        if spec.get("selector") is not None:
            out += validate_label_selector(spec["selector"], "spec.selector")
        policy = spec.get("unhealthyPodEvictionPolicy")
        if policy is not None and policy not in EVICTION_POLICIES:
            out.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, EVICTION_POLICIES))
        return out + self.validate_status(obj.get("status"))

    @staticmethod
    def validate_status(status: object) -> list[Cause]:
        """The numbers evictions and the controller compute with: non-negative integers, a map of pod names."""
        if status is None:
            return []
        if not isinstance(status, dict):
            return [invalid_value("status", status, "must be an object")]
        out: list[Cause] = []
        for key in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods", "observedGeneration"):
            v = status.get(key, 0)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                out.append(invalid_value(f"status.{key}", v, "must be greater than or equal to 0"))
        pods = status.get("disruptedPods") or {}
        if not isinstance(pods, dict) or not all(isinstance(v, str) for v in pods.values()):
            out.append(invalid_value("status.disruptedPods", pods, "must be a map of pod names to times"))
        conds = status.get("conditions") or []
        if not isinstance(conds, list) or not all(isinstance(c, dict) for c in conds):
            out.append(invalid_value("status.conditions", conds, "must be a list of conditions"))
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN,
                Column("Min Available", description="The minimum number of pods that must be available."),
                Column("Max Unavailable", description="The maximum number of pods that may be unavailable."),
                Column("Allowed Disruptions", "integer",
                       description="Calculated number of pods that may be disrupted at this time."),
                AGE_COLUMN]

    def cells(self, obj: Obj) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        return [obj["metadata"]["name"], _shown(spec.get("minAvailable")), _shown(spec.get("maxUnavailable")),
                int(status.get("disruptionsAllowed") or 0), age(obj)]
