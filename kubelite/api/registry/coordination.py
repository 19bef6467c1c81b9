"""coordination.k8s.io/v1 Lease: the heartbeat and leader-election record.

Node agents renew one Lease per node in ``kube-node-lease`` and control-plane
components hold one while they act; the API only checks the few numeric
fields and prints the holder, as kube-apiserver does.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import Cause, invalid_value
from kubelite.api.meta import age
from kubelite.api.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy


class Lease(Strategy):
    group, kind, plural, singular = "coordination.k8s.io", "Lease", "leases", "lease"
    always_shown = {"spec": {}}

    def validate_spec(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec") or {}
        if not isinstance(spec, dict):
            return [invalid_value("spec", spec, "must be an object")]
        out: list[Cause] = []
        for key in ("leaseDurationSeconds", "leaseTransitions"):
            v = spec.get(key)
            if v is None:
                continue
            positive = key == "leaseDurationSeconds"
            if not isinstance(v, int) or isinstance(v, bool) or v < 0 or (positive and v == 0):
                out.append(invalid_value(f"spec.{key}", v, "must be greater than 0" if positive
                                         else "must be greater than or equal to 0"))
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Holder", description="The holder of the lease"), AGE_COLUMN]

    def cells(self, obj: Obj) -> list[Any]:
        return [obj["metadata"]["name"], (obj.get("spec") or {}).get("holderIdentity", ""), age(obj)]
