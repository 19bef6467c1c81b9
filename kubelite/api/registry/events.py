"""events.k8s.io/v1 Event: a second version of core/v1 Event over the same stored objects.

kube-apiserver keeps one internal Event under ``/registry/events/<ns>/<name>``
and converts on the way in and out (``pkg/apis/events/v1/conversion.go``); the
stored form here is core/v1, so :class:`EventsStore` converts values under that
prefix between the two JSON shapes, and a :class:`~kubelite.api.storage.Storage`
over it (:meth:`EventV1.storage_view`) serves this kind with every generic path
(get, list, watch, compare-and-swap updates, patches, apply, deletes) unchanged.

The field mapping, v1 ↔ core: ``note`` ↔ ``message``, ``regarding`` ↔
``involvedObject``, ``reportingController`` ↔ ``reportingComponent``,
``deprecatedSource`` ↔ ``source``, ``deprecatedFirstTimestamp`` ↔
``firstTimestamp``, ``deprecatedLastTimestamp`` ↔ ``lastTimestamp``,
``deprecatedCount`` ↔ ``count``; ``eventTime``, ``series``, ``related``,
``action``, ``reason``, ``type``, ``reportingInstance`` are the same in both.
Field selectors take the v1 names (``regarding.*``, ``reportingController``)
as kube's field-label conversion for this version does.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kubelite.api.errors import Cause, invalid_value, required
from kubelite.api.registry.base import Column, Obj, Strategy
from kubelite.api.registry.core import EVENT_TYPES
from kubelite.api.registry.core import Event as CoreEvent
from kubelite.api.transformed_store import TransformedStore
from kubelite.store.contracts import KeyValue

if TYPE_CHECKING:
    from kubelite.api.storage import Storage

EVENTS_PREFIX = "/registry/events/"
# v1 name -> core/v1 name, for the top-level fields that only change name
RENAMED = {"note": "message", "regarding": "involvedObject", "reportingController": "reportingComponent",
           "deprecatedSource": "source", "deprecatedFirstTimestamp": "firstTimestamp",
           "deprecatedLastTimestamp": "lastTimestamp", "deprecatedCount": "count"}
TO_V1 = {core: v1 for v1, core in RENAMED.items()}
CORE_EVENT = CoreEvent()
FIELD_LABELS = {"regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid", "regarding.apiVersion",
                "regarding.resourceVersion", "regarding.fieldPath", "reason", "type", "reportingController"}


def _rename(obj: Obj, names: dict[str, str], api_version: str) -> Obj:
    out: Obj = {}
    for k, v in obj.items():
        out[names.get(k, k)] = v
    out["apiVersion"], out["kind"] = api_version, "Event"
    return out


def core_to_v1(obj: Obj) -> Obj:
    """A stored core/v1 Event as events.k8s.io/v1 (empty deprecated fields dropped, as Go's omitempty does)."""
    out = _rename(obj, TO_V1, "events.k8s.io/v1")
    for k in ("deprecatedSource", "deprecatedCount", "deprecatedFirstTimestamp", "deprecatedLastTimestamp", "note"):
        if out.get(k) in (None, {}, 0, ""):
            out.pop(k, None)
    return out


def v1_to_core(obj: Obj) -> Obj:
    return _rename(obj, RENAMED, "v1")


def _convert(value: bytes, fn: Any) -> bytes:
    try:
        obj = json.loads(value)
    except ValueError:
        return value
    if not isinstance(obj, dict):
        return value
    return json.dumps(fn(obj), separators=(",", ":")).encode()


class EventsStore(TransformedStore):
    """Values under :data:`EVENTS_PREFIX` are core/v1 below, events.k8s.io/v1 above."""

    def read(self, kv: KeyValue) -> KeyValue:
        return replace(kv, value=_convert(kv.value, core_to_v1)) if kv.key.startswith(EVENTS_PREFIX) else kv

    def write(self, key: str, value: bytes) -> bytes:
        return _convert(value, v1_to_core) if key.startswith(EVENTS_PREFIX) else value

    async def close(self) -> None:  # the server closes the real store
        return None


class EventV1(Strategy):
    group, version, kind, plural, singular = "events.k8s.io", "v1", "Event", "events", "event"
    short_names = ("ev",)
    name_check = "path"

    def __init__(self) -> None:
        self._views: dict[int, tuple[Storage, Storage]] = {}

    def storage_view(self, storage: Storage) -> Storage:
        """A Storage like ``storage`` whose store speaks events.k8s.io/v1 under ``/registry/events/``."""
        cached = self._views.get(id(storage))
        if cached is not None and cached[0] is storage:
            return cached[1]
        from kubelite.api.storage import Storage

        view = Storage(EventsStore(storage.store), storage.registry)
        self._views[id(storage)] = (storage, view)
        storage.views.append(view)  # closed with it
        return view

    def validate_spec(self, obj: Obj) -> list[Cause]:
        """kube's ``ValidateEventCreate`` for events.k8s.io/v1 (updates of old core events are not held to it)."""
        out: list[Cause] = []
        for k in ("reportingController", "reportingInstance", "action", "reason"):
            if not obj.get(k):
                out.append(required(k))
        if not obj.get("eventTime"):
            out.append(required("eventTime"))
        t = obj.get("type")
        if t not in EVENT_TYPES:
            out.append(invalid_value("type", t if t is not None else "", f"has invalid value: {t or ''}"))
        note = obj.get("note")
        if isinstance(note, str) and len(note) > 1024:
            out.append(Cause("FieldValueTooLong", "note", "Too long: may not be more than 1024 bytes"))
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        from kubelite.api.meta import validate_object_meta

        return validate_object_meta(new.get("metadata") or {}, True, self.name_check)

    def columns(self) -> list[Column]:  # kube prints both versions from the one internal Event
        return CORE_EVENT.columns()

    def cells(self, obj: Obj) -> list[Any]:
        return CORE_EVENT.cells(v1_to_core(obj))

    def field_value(self, obj: Obj, field: str) -> str | None:
        if field.startswith("regarding.") and field in FIELD_LABELS:
            return str((obj.get("regarding") or {}).get(field.split(".", 1)[1], ""))
        if field in FIELD_LABELS:
            return str(obj.get(field, ""))
        return super().field_value(obj, field)
