"""What each projected kind of volume contains: ConfigMap, Secret, downward API and projected.

Each builder turns a volume source and the objects it names into a payload
(relative path -> bytes and mode) for the atomic writer, with the kubelet's
rules: no ``items`` projects every key, ``items`` projects only those keys at
their paths with their modes, ``defaultMode`` (default 0644) otherwise;
``optional`` makes a missing object empty and missing keys skipped. A projected
volume gathers its sources in order (later paths win) and reports every failing
source at once, as the kubelet's aggregate error does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from kubelite.agent.config.errors import VolumeError, VolumeInvalid, VolumeNotFound
from kubelite.agent.config.fieldpath import FieldError, object_field, resource_value
from kubelite.agent.config.lookup import ObjectLookup, TokenLookup
from kubelite.agent.config.volumes.atomic_writer import FileProjection

DEFAULT_MODE = 0o644
Payload = dict[str, FileProjection]


def file_mode(volume: str, value: object, default: int = DEFAULT_MODE) -> int:
    """A defaultMode or item mode, checked as the API does."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0o777:
        raise VolumeInvalid(volume, f"invalid mode {value!r}: must be a number between 0 and 0777 (octal), "
                                    "both inclusive")
    return value


def _b64(volume: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise VolumeInvalid(volume, "data is not valid base64") from None


def _key_data(volume: str, kind: str, obj: Mapping[str, Any]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    if kind == "configmap":
        out.update((k, str(v).encode()) for k, v in (obj.get("data") or {}).items())
        out.update((k, _b64(volume, v)) for k, v in (obj.get("binaryData") or {}).items())
    else:
        out.update((k, _b64(volume, v)) for k, v in (obj.get("data") or {}).items())
    return out


async def object_payload(volume: str, kind: str, source: Mapping[str, Any], namespace: str,
                         lookup: ObjectLookup, default_mode: object) -> Payload:
    """A configMap or secret volume (or projected source): KIND is "configmap" or "secret"."""
    name = source.get("name" if kind == "configmap" else "secretName", "") or source.get("name", "")
    optional = bool(source.get("optional"))
    mode = file_mode(volume, default_mode)
    obj = await (lookup.configmap(namespace, name) if kind == "configmap" else lookup.secret(namespace, name))
    if obj is None:
        if not optional:
            raise VolumeNotFound(volume, f'{kind} "{name}" not found')
        obj = {}
    data = _key_data(volume, kind, obj)
    items = source.get("items") or []
    if not items:
        return {k: FileProjection(v, mode) for k, v in data.items()}
    payload: Payload = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            if optional:
                continue
            what = "configmap references non-existent config key" if kind == "configmap" else \
                "references non-existent secret key"
            raise VolumeInvalid(volume, f"{what}: {key}")
        payload[item.get("path", "")] = FileProjection(data[key], file_mode(volume, item.get("mode"), mode))
    return payload


def downward_payload(volume: str, items: list[Mapping[str, Any]], pod: Mapping[str, Any],
                     default_mode: object, allocatable: Mapping[str, str]) -> Payload:
    mode = file_mode(volume, default_mode)
    payload: Payload = {}
    errors: list[str] = []
    for item in items:
        value = ""
        try:
            if item.get("fieldRef"):
                ref = item["fieldRef"]
                value = object_field(pod, ref.get("fieldPath", ""), ref.get("apiVersion") or "v1")
            elif item.get("resourceFieldRef"):
                value = resource_value(item["resourceFieldRef"], pod, None, allocatable)
        except FieldError as e:
            errors.append(str(e))
        payload[item.get("path", "")] = FileProjection(value.encode(), file_mode(volume, item.get("mode"), mode))
    if errors:
        raise VolumeInvalid(volume, _aggregate(errors))
    return payload


async def projected_payload(volume: str, source: Mapping[str, Any], pod: Mapping[str, Any],
                            lookup: ObjectLookup, allocatable: Mapping[str, str]) -> Payload:
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    mode = source.get("defaultMode")
    payload: Payload = {}
    errors: list[VolumeError] = []
    for src in source.get("sources") or []:
        try:
            if src.get("configMap"):
                payload.update(await object_payload(volume, "configmap", src["configMap"], namespace, lookup, mode))
            elif src.get("secret"):
                payload.update(await object_payload(volume, "secret", src["secret"], namespace, lookup, mode))
            elif src.get("downwardAPI"):
                payload.update(downward_payload(volume, src["downwardAPI"].get("items") or [], pod, mode,
                                                allocatable))
            elif src.get("serviceAccountToken"):
                payload.update(await _token_payload(volume, src["serviceAccountToken"], pod, lookup, mode))
            elif src.get("clusterTrustBundle"):
                raise VolumeInvalid(volume, "clusterTrustBundle projections are not supported")
        except VolumeError as e:
            errors.append(e)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        cls = VolumeNotFound if all(isinstance(e, VolumeNotFound) for e in errors) else VolumeInvalid
        raise cls(volume, _aggregate([e.detail for e in errors]))
    return payload


async def _token_payload(volume: str, src: Mapping[str, Any], pod: Mapping[str, Any], lookup: ObjectLookup,
                         default_mode: object) -> Payload:
    if not isinstance(lookup, TokenLookup):
        raise VolumeInvalid(volume, "service account tokens are not available on this node")
    token = await lookup.service_account_token(dict(pod), src.get("audience") or "",
                                               int(src.get("expirationSeconds") or 3600))
    mode = file_mode(volume, default_mode)
    if ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup") is not None:
        mode = 0o600  # the kubelet's rule: with an fsGroup a token is readable by owner and (then) group only
    return {src.get("path", "token"): FileProjection(token.encode(), mode)}


def _aggregate(messages: list[str]) -> str:
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
