"""apps/v1 ControllerRevision: an immutable snapshot of a DaemonSet's or StatefulSet's pod template.

The controllers write one per template they have run (``data`` holds a
strategic-merge patch that puts the template back, ``revision`` its order),
and ``kubectl rollout history/undo`` reads them. As in kube-apiserver the API
checks little: ``data`` is required and may never change (a revision is a
record of the past; only its ``revision`` number moves when an old template
comes back), ``revision`` is a non-negative integer.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import Cause, invalid_value, required
from kubelite.api.meta import age
from kubelite.api.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy


def _controller(obj: Obj) -> str:
    """kubectl's CONTROLLER cell: ``<kind>.<group>/<name>`` of the controlling owner, ``<none>`` without one."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            api_version = str(ref.get("apiVersion") or "")
            group = api_version.split("/", 1)[0] if "/" in api_version else ""
            return f"{str(ref.get('kind') or '').lower()}.{group}/{ref.get('name')}"
    return "<none>"


class ControllerRevision(Strategy):
    group, kind, plural, singular = "apps", "ControllerRevision", "controllerrevisions", "controllerrevision"

    def validate_spec(self, obj: Obj) -> list[Cause]:
        out: list[Cause] = []
        if obj.get("data") is None:
            out.append(required("data", "data is mandatory"))
        rev = obj.get("revision", 0)
        if not isinstance(rev, int) or isinstance(rev, bool) or rev < 0:
            out.append(invalid_value("revision", rev, "must be greater than or equal to 0"))
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        out = self.validate(new)
        if new.get("data") != old.get("data"):
            out.append(invalid_value("data", "", "field is immutable"))
        return out

    def spec_changed(self, new: Obj, old: Obj) -> bool:
        return False  # no spec: ``generation`` never moves

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Controller", description="Controller of the object"),
                Column("Revision", "integer", description="Revision of the ControllerRevision"), AGE_COLUMN]

    def cells(self, obj: Obj) -> list[Any]:
        return [obj["metadata"]["name"], _controller(obj), obj.get("revision", 0), age(obj)]
