"""Protobuf request bodies, as kubectl 1.32's ``create configmap|secret|namespace`` sends them.

The body is Kubernetes' envelope: the magic ``k8s\\x00`` then a
``runtime.Unknown`` (1: TypeMeta{1: apiVersion, 2: kind}, 2: raw, 3:
contentEncoding, 4: contentType) whose ``raw`` is the object in the field
numbering of ``k8s.io/api``'s ``generated.proto``. Rather than generated code,
a small table per message maps field numbers to JSON names and types, and a
~40-line wire-format reader walks it; the result is the same JSON object the
client would have sent, so the rest of the server never sees protobuf. Kinds
without a table yet get a 415 that says so.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from kubelite.api.errors import BadRequest, UnsupportedMediaType

MAGIC = b"k8s\x00"
# field number -> (json name, type); types: str, bytes (base64 in JSON), int, bool, time, map:str, map:bytes,
# rep:str, or the name of another message in SCHEMAS (prefixed "rep:" when repeated)
Schema = dict[int, tuple[str, str]]
SCHEMAS: dict[str, Schema] = {
    "TypeMeta": {1: ("apiVersion", "str"), 2: ("kind", "str")},
    "Unknown": {1: ("typeMeta", "TypeMeta"), 2: ("raw", "raw"), 3: ("contentEncoding", "str"),
                4: ("contentType", "str")},
    "ObjectMeta": {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"), 5: ("uid", "str"),
                   6: ("resourceVersion", "str"), 7: ("generation", "int"), 8: ("creationTimestamp", "time"),
                   11: ("labels", "map:str"), 12: ("annotations", "map:str"), 14: ("finalizers", "rep:str")},
    "Time": {1: ("seconds", "int"), 2: ("nanos", "int")},
    "ConfigMap": {1: ("metadata", "ObjectMeta"), 2: ("data", "map:str"), 3: ("binaryData", "map:bytes"),
                  4: ("immutable", "bool")},
    "Secret": {1: ("metadata", "ObjectMeta"), 2: ("data", "map:bytes"), 3: ("type", "str"),
               4: ("stringData", "map:str"), 5: ("immutable", "bool")},
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec"), 3: ("status", "NamespaceStatus")},
    "NamespaceSpec": {1: ("finalizers", "rep:str")},
    "NamespaceStatus": {1: ("phase", "str")},
}
ZERO_TIME = "0001-01-01T00:00:00Z"
KINDS = {("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Namespace")}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        if pos >= len(buf):
            raise BadRequest("protobuf body is truncated")
        b = buf[pos]
        pos += 1
        out |= (b & 0x7F) << shift
        if not b & 0x80:
            return out, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        num, wire = tag >> 3, tag & 7
        if wire == 0:
            v, pos = _varint(buf, pos)
            out.append((num, v))
        elif wire == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise BadRequest("protobuf body is truncated")
            out.append((num, buf[pos:pos + n]))
            pos += n
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            out.append((num, int.from_bytes(buf[pos:pos + size], "little")))
            pos += size
        else:
            raise BadRequest(f"unsupported protobuf wire type {wire}")
    return out


def _scalar(kind: str, v: int | bytes) -> Any:
    if kind in ("str", "bytes", "raw") and not isinstance(v, bytes):
        raise BadRequest("protobuf field has the wrong wire type")
    if kind == "str":
        assert isinstance(v, bytes)
        return v.decode("utf-8", errors="replace")
    if kind == "bytes":
        assert isinstance(v, bytes)
        return base64.b64encode(v).decode()
    if kind == "raw":
        return v
    if kind == "bool":
        return bool(v)
    if kind == "int":
        if not isinstance(v, int):
            raise BadRequest("protobuf field has the wrong wire type")
        return v - (1 << 64) if v >= 1 << 63 else v
    if kind == "time":
        assert isinstance(v, bytes)
        secs = decode_message(v, "Time").get("seconds", 0)
        if secs <= 0:
            return ZERO_TIME
        return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not isinstance(v, bytes):
        raise BadRequest("protobuf field has the wrong wire type")
    return decode_message(v, kind)


def decode_message(buf: bytes, message: str) -> dict[str, Any]:
    schema = SCHEMAS[message]
    out: dict[str, Any] = {}
    for num, v in _fields(buf):
        if num not in schema:
            continue
        name, kind = schema[num]
        if kind.startswith("map:"):
            entry = {n: val for n, val in _fields(v if isinstance(v, bytes) else b"")}
            key = entry.get(1, b"")
            out.setdefault(name, {})[_scalar("str", key)] = _scalar(kind[4:], entry.get(2, b""))
        elif kind.startswith("rep:"):
            out.setdefault(name, []).append(_scalar(kind[4:], v))
        else:
            value = _scalar(kind, v)
            if value not in ("", 0, False, None, ZERO_TIME):  # gogo writes zero values: they mean "unset"
                out[name] = value
    return out


def decode_unknown(body: bytes) -> dict[str, Any]:
    if not body.startswith(MAGIC):
        raise BadRequest("protobuf body does not start with the k8s envelope")
    unknown = decode_message(body[len(MAGIC):], "Unknown")
    tm = unknown.get("typeMeta", {})
    av, kind = tm.get("apiVersion", ""), tm.get("kind", "")
    if (av, kind) not in KINDS:
        raise UnsupportedMediaType(f"protobuf bodies for {kind or 'this kind'} ({av}) are not supported yet: "
                                   "send JSON or YAML (kubectl create -f, apply -f)")
    obj = decode_message(unknown.get("raw", b""), kind)
    return {"apiVersion": av, "kind": kind, **obj}
