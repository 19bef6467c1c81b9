"""core/v1 kinds without workloads: Namespace, ConfigMap, Secret, ServiceAccount, Node, Event, Endpoints.

Each class is the kind's strategy (see :mod:`.base`); defaults, validation
messages and table columns follow kube-apiserver's ``pkg/registry/core`` and
``pkg/printers/internalversion``.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from kubelite.api.errors import Cause, invalid_value, not_supported
from kubelite.api.meta import age, is_qualified_name
from kubelite.api.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy

STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")
CONFIG_KEY = r"[-._a-zA-Z0-9]+"
CONFIG_KEY_MSG = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
                  "'KEY_NAME',  or 'key-name', regex used for validation is '" + CONFIG_KEY + "')")


def validate_keys(data: object, path: str) -> list[Cause]:
    if data is None:
        return []
    if not isinstance(data, dict):
        return [invalid_value(path, data, "must be a map")]
    out: list[Cause] = []
    for k in data:
        if len(k) > 253:
            out.append(invalid_value(path, k, "must be no more than 253 characters"))
        if not re.fullmatch(CONFIG_KEY, k):
            out.append(invalid_value(path, k, CONFIG_KEY_MSG))
    return out


class Namespace(Strategy):
    kind, plural, singular, namespaced = "Namespace", "namespaces", "namespace", False
    short_names = ("ns",)
    subresources = ("status", "finalize")
    name_check = "label"

    def prepare_create(self, obj: Obj) -> None:
        """As kube: a new namespace is Active and always carries the ``kubernetes`` finalizer, which the
        namespace controller lifts (``namespaces/NAME/finalize``) once it has emptied a deleted one."""
        obj["status"] = {"phase": "Active"}
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            found = spec.get("finalizers")
            if isinstance(found, list) and "kubernetes" not in found:
                spec["finalizers"] = [*found, "kubernetes"]
            elif not found:
                spec["finalizers"] = ["kubernetes"]

    def default(self, obj: Obj) -> None:
        meta = obj.setdefault("metadata", {})
        if meta.get("name"):
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict) and spec.get("finalizers") == []:
            del spec["finalizers"]  # omitempty, as kube writes a finalized namespace: spec: {}
        status = obj.setdefault("status", {})
        if isinstance(status, dict) and not status.get("phase"):
            status["phase"] = "Active"

    def prepare_update(self, new: Obj, old: Obj) -> None:
        """``spec.finalizers`` change only through ``finalize`` (storage's ``prepare_finalize``)."""
        super().prepare_update(new, old)
        new["spec"] = old.get("spec", {})

    def validate_spec(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [invalid_value("spec", spec, "must be an object")]
        found = spec.get("finalizers")
        if found is None:
            return []
        if not isinstance(found, list):
            return [invalid_value("spec.finalizers", found, "must be a list of strings")]
        out: list[Cause] = []
        for i, f in enumerate(found):
            path = f"spec.finalizers[{i}]"
            if not isinstance(f, str):
                out.append(invalid_value(path, f, "must be a string"))
                continue
            out.extend(invalid_value(path, f, m) for m in is_qualified_name(f))
            if "/" not in f and f not in STANDARD_FINALIZERS:
                out.append(invalid_value(path, f, "name is neither a standard finalizer name nor is it fully "
                                         "qualified"))
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        """As kube's status validation: the phase follows ``deletionTimestamp`` (checked when it changes, so a
        namespace a server before the Terminating phase left marked but Active can still be finalized)."""
        out = self.validate(new)
        phase = (new.get("status") or {}).get("phase") if isinstance(new.get("status"), dict) else None
        if phase == (old.get("status") or {}).get("phase"):
            return out
        if new["metadata"].get("deletionTimestamp"):
            if phase != "Terminating":
                out.append(invalid_value("status.Phase", phase, "may only be 'Terminating' if `deletionTimestamp` "
                                         "is not empty"))
        elif phase != "Active":
            out.append(invalid_value("status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty"))
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Status", description="The status of the namespace"), AGE_COLUMN]

    def cells(self, obj: Obj) -> list[Any]:
        return [obj["metadata"]["name"], obj.get("status", {}).get("phase", ""), age(obj)]

    def field_value(self, obj: Obj, field: str) -> str | None:
        if field == "status.phase":
            return str(obj.get("status", {}).get("phase", ""))
        return super().field_value(obj, field)


class ConfigMap(Strategy):
    kind, plural, singular = "ConfigMap", "configmaps", "configmap"
    short_names = ("cm",)

    def validate_spec(self, obj: Obj) -> list[Cause]:
        out = validate_keys(obj.get("data"), "data") + validate_keys(obj.get("binaryData"), "binaryData")
        for k in set(obj.get("data") or {}) & set(obj.get("binaryData") or {}):
            out.append(invalid_value("data", k, "duplicate of key present in binaryData"))
        for k, v in (obj.get("data") or {}).items() if isinstance(obj.get("data"), dict) else []:
            if not isinstance(v, str):
                out.append(invalid_value(f"data[{k}]", v, "must be a string"))
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Data", "integer", description="Number of data items"), AGE_COLUMN]

    def cells(self, obj: Obj) -> list[Any]:
        n = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
        return [obj["metadata"]["name"], n, age(obj)]


class Secret(Strategy):
    kind, plural, singular = "Secret", "secrets", "secret"

    def default(self, obj: Obj) -> None:
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            old = obj.get("data")
            data: dict[str, Any] = old if isinstance(old, dict) else {}
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            obj["data"] = data

    def validate_spec(self, obj: Obj) -> list[Cause]:
        out = validate_keys(obj.get("data"), "data")
        for k, v in (obj.get("data") or {}).items() if isinstance(obj.get("data"), dict) else []:
            try:
                base64.b64decode(v if isinstance(v, str) else "!", validate=True)
            except (binascii.Error, ValueError):
                out.append(invalid_value(f"data[{k}]", "<secret contents redacted>", "must be base64-encoded"))
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Type", description="The type of the secret"),
                Column("Data", "integer", description="The number of data items"), AGE_COLUMN]

    def cells(self, obj: Obj) -> list[Any]:
        return [obj["metadata"]["name"], obj.get("type", ""), len(obj.get("data") or {}), age(obj)]

    def field_value(self, obj: Obj, field: str) -> str | None:
        if field == "type":
            return str(obj.get("type", ""))
        return super().field_value(obj, field)


class ServiceAccount(Strategy):
    kind, plural, singular = "ServiceAccount", "serviceaccounts", "serviceaccount"
    short_names = ("sa",)

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Secrets", "integer"), AGE_COLUMN]

    def cells(self, obj: Obj) -> list[Any]:
        return [obj["metadata"]["name"], len(obj.get("secrets") or []), age(obj)]


class Endpoints(Strategy):
    kind, plural, singular = "Endpoints", "endpoints", "endpoints"
    short_names = ("ep",)

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Endpoints"), AGE_COLUMN]

    def cells(self, obj: Obj) -> list[Any]:
        eps = [f"{a.get('ip')}:{p.get('port')}" for s in obj.get("subsets") or []
               for a in s.get("addresses") or [] for p in s.get("ports") or []]
        shown = ",".join(eps[:3]) + (f" + {len(eps) - 3} more..." if len(eps) > 3 else "")
        return [obj["metadata"]["name"], shown or "<none>", age(obj)]


def node_status(obj: Obj) -> str:
    ready = [c for c in obj.get("status", {}).get("conditions") or [] if c.get("type") == "Ready"]
    state = "Unknown" if not ready else "Ready" if ready[0].get("status") == "True" else "NotReady"
    if obj.get("spec", {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    return state


class Node(Strategy):
    kind, plural, singular, namespaced = "Node", "nodes", "node", False
    short_names = ("no",)
    subresources = ("status", "proxy")
    always_shown = {"spec": {}, "status": {}}

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Status"), Column("Roles"), AGE_COLUMN, Column("Version"),
                Column("Internal-IP", priority=1), Column("External-IP", priority=1),
                Column("OS-Image", priority=1), Column("Kernel-Version", priority=1),
                Column("Container-Runtime", priority=1)]

    def cells(self, obj: Obj) -> list[Any]:
        labels = obj["metadata"].get("labels") or {}
        roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and "/" in k)
        roles += [v for k, v in labels.items() if k == "kubernetes.io/role"]
        status = obj.get("status", {})
        info = status.get("nodeInfo", {})
        addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
        return [obj["metadata"]["name"], node_status(obj), ",".join(roles) or "<none>", age(obj),
                info.get("kubeletVersion", ""), addrs.get("InternalIP", "<none>"), addrs.get("ExternalIP", "<none>"),
                info.get("osImage", "<unknown>"), info.get("kernelVersion", "<unknown>"),
                info.get("containerRuntimeVersion", "<unknown>")]

    def field_value(self, obj: Obj, field: str) -> str | None:
        if field == "spec.unschedulable":
            return str(bool(obj.get("spec", {}).get("unschedulable"))).lower()
        return super().field_value(obj, field)


EVENT_TYPES = ["Normal", "Warning"]


def since(ts: object) -> str:
    """The age of a Time or MicroTime (``2006-01-02T15:04:05.000000Z``); ``<unknown>`` when unset."""
    text = str(ts or "")
    if "." in text:
        text = text.split(".", 1)[0] + "Z"
    return age({"metadata": {"creationTimestamp": text}})


def source(component: str, instance: str) -> str:
    """kubectl's SOURCE of an event (printers' ``formatEventSource``): component, then host or reporting instance."""
    return f"{component}, {instance}" if instance else component


class Event(Strategy):
    kind, plural, singular = "Event", "events", "event"
    short_names = ("ev",)
    name_check = "path"

    def validate_spec(self, obj: Obj) -> list[Cause]:
        t = obj.get("type")
        return [not_supported("type", t, EVENT_TYPES)] if t and t not in EVENT_TYPES else []

    def columns(self) -> list[Column]:
        return [Column("Last Seen"), Column("Type"), Column("Reason"), Column("Object"), Column("Message"),
                Column("Source", priority=1), Column("First Seen", priority=1), Column("Count", "integer", priority=1),
                Column("Name", priority=1)]

    def cells(self, obj: Obj) -> list[Any]:
        """kube's ``printEvent``: first seen falls back to eventTime, last seen to first seen, a series wins."""
        inv = obj.get("involvedObject") or {}
        src = obj.get("source") or {}
        first = since(obj.get("firstTimestamp") or obj.get("eventTime"))
        last = since(obj["lastTimestamp"]) if obj.get("lastTimestamp") else first
        count = obj.get("count") or 1
        series = obj.get("series")
        if isinstance(series, dict):
            last, count = since(series.get("lastObservedTime")), series.get("count") or count
        target = str(inv.get("kind", "")).lower() + (f"/{inv['name']}" if inv.get("name") else "")
        return [last, obj.get("type", ""), obj.get("reason", ""), target, obj.get("message", ""),
                source(src.get("component") or obj.get("reportingComponent") or "",
                       src.get("host") or obj.get("reportingInstance") or ""),
                first, count, obj["metadata"]["name"]]

    def field_value(self, obj: Obj, field: str) -> str | None:
        if field.startswith("involvedObject."):
            return str((obj.get("involvedObject") or {}).get(field.split(".", 1)[1], ""))
        if field in ("reason", "type", "reportingComponent"):
            return str(obj.get(field, ""))
        if field == "source":
            return str((obj.get("source") or {}).get("component", ""))
        return super().field_value(obj, field)
