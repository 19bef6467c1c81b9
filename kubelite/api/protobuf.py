"""Decode Kubernetes protobuf request bodies into the JSON-shaped dicts the rest of the API works on.

kubectl 1.32 sends its typed objects (``kubectl create configmap|secret|...``)
as ``application/vnd.kubernetes.protobuf``: the four bytes ``k8s\\x00`` and a
``runtime.Unknown`` whose ``typeMeta`` names the kind and whose ``raw`` holds
the object's own message. We only ever *read* protobuf and always answer in
JSON, which every client accepts, so there is no encoder and no protobuf
dependency: field tables per API group (``kubelite.api.proto``) drive one
generic walker, and the result is exactly what Go's JSON encoder would have
produced for the same object. A kind without tables raises
:class:`UnsupportedKind` (the handler answers 415, and clients can fall back to
JSON); anything malformed raises :class:`~kubelite.errors.Invalid`.
"""

import json
import struct
from types import ModuleType
from typing import Any

from kubelite.api.errors import UnsupportedMediaType
from kubelite.api.proto import (
    apps,
    authentication,
    authorization,
    batch,
    core,
    core_pod,
    core_volumes,
    meta,
    networking,
    policy,
    rbac,
    scheduling,
)
from kubelite.api.proto.schema import Schema, Table
from kubelite.api.proto.wire import LENGTH, fields
from kubelite.errors import Invalid

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

_GROUPS: tuple[ModuleType, ...] = (core, apps, batch, policy, scheduling, networking, rbac, authentication,
                                    authorization)
_TABLES: tuple[ModuleType, ...] = (meta, core_volumes, core_pod, *_GROUPS)


class UnsupportedKind(UnsupportedMediaType):
    """The body is well-formed protobuf, but of a kind we have no field tables for.

    An :class:`~kubelite.errors.Invalid` (through ``UnsupportedMediaType``), so the
    HTTP edge answers 415 and the client knows to resend as JSON.
    """


def _build() -> tuple[Schema, dict[tuple[str, str], str]]:
    tables: dict[str, Table] = {}
    for module in _TABLES:
        messages: dict[str, Table] = module.MESSAGES
        clash = tables.keys() & messages.keys()
        if clash:
            raise ValueError(f"message names defined twice: {sorted(clash)}")
        tables.update(messages)
    kinds = {(module.API_VERSION, kind): kind for module in _GROUPS for kind in module.KINDS}
    return Schema(tables), kinds


SCHEMA, KINDS = _build()


def supported_kinds() -> list[tuple[str, str]]:
    """Every ``(apiVersion, kind)`` :func:`decode` understands."""
    return sorted(KINDS)


def is_protobuf(body: bytes, content_type: str) -> bool:
    """Whether a request body is Kubernetes protobuf: by its media type, or by its magic when none was given."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type:
        return media_type == CONTENT_TYPE
    return body.startswith(MAGIC)


def _string(value: int | bytes, what: str) -> str:
    if not isinstance(value, bytes):
        raise Invalid(f"protobuf: {what} must be a string")
    return value.decode("utf-8", "replace")


def _envelope(body: bytes) -> tuple[str, str, bytes, str, str]:
    """Split the ``runtime.Unknown`` envelope into apiVersion, kind, raw, contentEncoding, contentType."""
    if not body.startswith(MAGIC):
        raise Invalid("protobuf: body does not start with the k8s\\x00 magic")
    api_version = kind = encoding = content_type = ""
    raw = b""
    for number, wire_type, value in fields(body[len(MAGIC) :]):
        if number in (1, 2, 3, 4) and wire_type != LENGTH:
            raise Invalid(f"protobuf: runtime.Unknown field {number} must be length-delimited")
        if number == 1:
            assert isinstance(value, bytes)
            for inner, inner_wire, inner_value in fields(value):
                if inner in (1, 2) and inner_wire != LENGTH:
                    raise Invalid(f"protobuf: TypeMeta field {inner} must be length-delimited")
                if inner == 1:
                    api_version = _string(inner_value, "apiVersion")
                elif inner == 2:
                    kind = _string(inner_value, "kind")
        elif number == 2:
            assert isinstance(value, bytes)
            raw = value
        elif number == 3:
            encoding = _string(value, "contentEncoding")
        elif number == 4:
            content_type = _string(value, "contentType")
    return api_version, kind, raw, encoding, content_type


def decode(body: bytes) -> dict[str, Any]:
    """Decode a ``k8s\\x00``-framed protobuf body into the object's JSON form.

    Raises :class:`UnsupportedKind` for a kind without tables and
    :class:`~kubelite.errors.Invalid` for anything malformed.
    """
    try:
        api_version, kind, raw, encoding, content_type = _envelope(bytes(body))
        if not api_version or not kind:
            raise Invalid("protobuf: the runtime.Unknown envelope does not name an apiVersion and kind")
        if encoding:
            raise Invalid(f"protobuf: content encoding {encoding!r} is not supported")
        if content_type.split(";", 1)[0].strip() == "application/json":
            obj = json.loads(raw)
            if not isinstance(obj, dict):
                raise Invalid("protobuf: the embedded JSON object is not an object")
            return {"apiVersion": api_version, "kind": kind, **obj}
        if content_type not in ("", CONTENT_TYPE):
            raise Invalid(f"protobuf: embedded content type {content_type!r} is not supported")
        message = KINDS.get((api_version, kind))
        if message is None:
            raise UnsupportedKind(
                f"protobuf: {api_version}, Kind={kind} cannot be decoded from protobuf; send JSON"
            )
        return {"apiVersion": api_version, "kind": kind, **SCHEMA.decode(message, raw)}
    except (ValueError, OverflowError, RecursionError, struct.error) as error:
        raise Invalid(f"protobuf: malformed body: {error}") from None


# The name kubelite.api.codec imports.
decode_unknown = decode
