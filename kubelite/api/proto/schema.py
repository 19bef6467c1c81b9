"""Message tables and the walker that turns a protobuf message into its Kubernetes JSON form.

The group modules (``core``, ``apps``, ...) hold plain data: for every message
a :data:`Table` mapping a field number to ``(json_name, spec)``. A spec is

* a scalar: ``string``, ``int`` (int32/int64, two's complement), ``bool``,
  ``bytes`` (JSON: base64) or ``double``;
* a message name from the tables, or a well-known type with its own JSON form:
  ``Time``, ``MicroTime``, ``Duration``, ``Quantity``, ``IntOrString``,
  ``FieldsV1``, ``RawExtension``;
* ``[]X`` for a repeated field, ``map[string]X`` for a map.

A scalar spec ending in ``!`` keeps its zero value. Without it the zero value
is dropped, because gogo-protobuf writes every non-pointer field even when
empty while Go's JSON encoder drops ``omitempty`` zeros: the ``!`` marks the
pointer fields (``*int32``, whose zero is meaningful) and the fields without
``omitempty`` (``containerPort``). On a list or map, ``!`` means the field has
no ``omitempty``, so an empty one (never on the wire) is JSON ``null``
(``ClusterRole.rules``). An empty JSON name means the Go field is an
embedded struct inlined into its parent (``Volume.VolumeSource``,
``Probe.ProbeHandler``). Fields the tables do not know are skipped, so objects
from newer clients still decode.

The result is what Go's ``json.Marshal`` of the same object gives, so the rest
of the API sees one shape whatever encoding the client chose.
"""

import base64
import json
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kubelite.api.proto.wire import FIXED64, LENGTH, VARINT, WIRE_NAMES, Value, fields, read_varint, to_signed
from kubelite.errors import Invalid

Table = dict[int, tuple[str, str]]

MAX_DEPTH = 64

SCALARS = frozenset({"string", "int", "bool", "bytes", "double"})
_SCALAR_WIRE = {"string": LENGTH, "bytes": LENGTH, "int": VARINT, "bool": VARINT, "double": FIXED64}
_ZERO: dict[str, Any] = {"string": "", "bytes": "", "int": 0, "bool": False, "double": 0.0}


@dataclass(frozen=True, slots=True)
class Field:
    """One compiled table entry."""

    name: str
    kind: str
    repeated: bool = False
    is_map: bool = False
    keep_zero: bool = False


def compile_spec(name: str, spec: str) -> Field:
    """Parse one ``(json_name, spec)`` table entry."""
    keep_zero = spec.endswith("!")
    spec = spec.rstrip("!")
    if spec.startswith("[]"):
        return Field(name, spec[2:], repeated=True, keep_zero=keep_zero)
    if spec.startswith("map[string]"):
        return Field(name, spec[len("map[string]") :], is_map=True, keep_zero=keep_zero)
    return Field(name, spec, keep_zero=keep_zero)


def _text(raw: bytes) -> str:
    # Go's JSON encoder replaces invalid UTF-8 with U+FFFD; so do we.
    return raw.decode("utf-8", "replace")


def _sub(raw: bytes, numbers: Mapping[int, str]) -> dict[str, Value]:
    """The last value of each listed field of a small well-known message."""
    found: dict[str, Value] = {}
    for number, _, value in fields(raw):
        if number in numbers:
            found[numbers[number]] = value
    return found


def _int(found: Mapping[str, Value], key: str) -> int:
    value = found.get(key, 0)
    if not isinstance(value, int):
        raise Invalid(f"protobuf: field {key} must be a varint")
    return to_signed(value)


def _bytes(found: Mapping[str, Value], key: str) -> bytes:
    value = found.get(key, b"")
    if not isinstance(value, bytes):
        raise Invalid(f"protobuf: field {key} must be length-delimited")
    return value


def _instant(raw: bytes) -> datetime | None:
    if not raw:
        return None  # the zero metav1.Time is written as an empty message; JSON says null
    found = _sub(raw, {1: "seconds", 2: "nanos"})
    seconds, nanos = _int(found, "seconds"), _int(found, "nanos")
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError:
        raise Invalid(f"protobuf: timestamp {seconds}s is out of range") from None


def _stamp(moment: datetime) -> str:
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )


def decode_time(raw: bytes) -> str | None:
    """``metav1.Time``: RFC 3339 in UTC at second precision, like Go's ``time.RFC3339``."""
    moment = _instant(raw)
    return None if moment is None else _stamp(moment) + "Z"


def decode_micro_time(raw: bytes) -> str | None:
    """``metav1.MicroTime``: RFC 3339 with exactly six fractional digits."""
    moment = _instant(raw)
    return None if moment is None else f"{_stamp(moment)}.{moment.microsecond:06d}Z"


def go_duration(nanos: int) -> str:
    """Format nanoseconds the way Go's ``time.Duration.String`` does (``1h0m0s``, ``1.5s``, ``250ms``)."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    left = abs(nanos)

    def with_fraction(value: int, scale: int, digits: int) -> str:
        whole, part = divmod(value, scale)
        fraction = f"{part:0{digits}d}".rstrip("0") if part else ""
        return f"{whole}.{fraction}" if fraction else str(whole)

    if left < 1_000_000_000:
        for unit, scale, digits in (("ns", 1, 0), ("µs", 1_000, 3), ("ms", 1_000_000, 6)):
            if left < scale * 1000:
                return sign + with_fraction(left, scale, digits) + unit
    seconds, part = divmod(left, 1_000_000_000)
    text = with_fraction((seconds % 60) * 1_000_000_000 + part, 1_000_000_000, 9) + "s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes // 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def decode_duration(raw: bytes) -> str:
    """``metav1.Duration``: field 1 holds nanoseconds; JSON is Go's duration string."""
    return go_duration(_int(_sub(raw, {1: "duration"}), "duration"))


def decode_quantity(raw: bytes) -> str:
    """``resource.Quantity``: its canonical string travels as field 1."""
    text = _text(_bytes(_sub(raw, {1: "string"}), "string"))
    return text or "0"


def decode_int_or_string(raw: bytes) -> int | str:
    """``intstr.IntOrString``: type 0 means intVal (field 2), type 1 means strVal (field 3)."""
    found = _sub(raw, {1: "type", 2: "intVal", 3: "strVal"})
    kind = _int(found, "type")
    if kind == 0:
        return _int(found, "intVal")
    if kind == 1:
        return _text(_bytes(found, "strVal"))
    raise Invalid(f"protobuf: IntOrString has unknown type {kind}")


def _embedded_json(raw: bytes, what: str) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise Invalid(f"protobuf: {what} does not hold JSON") from None


def decode_fields_v1(raw: bytes) -> Any:
    """``metav1.FieldsV1``: field 1 is the managed-fields set, already JSON."""
    return _embedded_json(_bytes(_sub(raw, {1: "Raw"}), "Raw"), "FieldsV1")


def decode_raw_extension(raw: bytes) -> Any:
    """``runtime.RawExtension``: field 1 is the embedded object, which clients send as JSON."""
    return _embedded_json(_bytes(_sub(raw, {1: "raw"}), "raw"), "RawExtension")


WELL_KNOWN: dict[str, Callable[[bytes], Any]] = {
    "Time": decode_time,
    "MicroTime": decode_micro_time,
    "Duration": decode_duration,
    "Quantity": decode_quantity,
    "IntOrString": decode_int_or_string,
    "FieldsV1": decode_fields_v1,
    "RawExtension": decode_raw_extension,
}


class Schema:
    """Compiled tables for a set of messages, and the decoder over them."""

    def __init__(self, tables: Mapping[str, Table]) -> None:
        self._messages: dict[str, dict[int, Field]] = {
            message: {number: compile_spec(*entry) for number, entry in table.items()}
            for message, table in tables.items()
        }
        self._nulls: dict[str, tuple[str, ...]] = {
            message: tuple(f.name for f in table.values() if (f.repeated or f.is_map) and f.keep_zero)
            for message, table in self._messages.items()
        }
        for message, table in self._messages.items():
            for number, field in table.items():
                if (
                    field.kind not in SCALARS
                    and field.kind not in WELL_KNOWN
                    and field.kind not in self._messages
                ):
                    raise ValueError(f"{message}.{number} refers to unknown message {field.kind}")

    def __contains__(self, message: str) -> bool:
        return message in self._messages

    def decode(self, message: str, raw: bytes) -> dict[str, Any]:
        """Decode ``raw`` as ``message`` into its JSON-shaped dict."""
        return self._message(message, raw, 0)

    def _message(self, message: str, raw: bytes, depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise Invalid(f"protobuf: messages nested deeper than {MAX_DEPTH}")
        table = self._messages[message]
        out: dict[str, Any] = {}
        for number, wire_type, value in fields(raw):
            field = table.get(number)
            if field is None:
                continue
            where = f"{message}.{field.name or field.kind}"
            if field.is_map:
                key, item = self._entry(field.kind, self._length(value, where), depth, where)
                out.setdefault(field.name, {})[key] = item
            elif field.repeated:
                out.setdefault(field.name, []).extend(
                    self._repeated(field.kind, wire_type, value, depth, where)
                )
            else:
                decoded = self._value(field.kind, wire_type, value, depth, where)
                if field.name == "":
                    if not isinstance(decoded, dict):
                        raise Invalid(f"protobuf: {where} cannot be inlined")
                    out.update(decoded)
                elif field.kind in SCALARS and not field.keep_zero and decoded == _ZERO[field.kind]:
                    out.pop(field.name, None)
                elif isinstance(decoded, dict) and isinstance(out.get(field.name), dict):
                    out[field.name].update(decoded)  # a repeated singular message merges, as in proto
                else:
                    out[field.name] = decoded
        for name in self._nulls[message]:
            out.setdefault(name, None)
        return out

    @staticmethod
    def _length(value: Value, where: str) -> bytes:
        if not isinstance(value, bytes):
            raise Invalid(f"protobuf: {where} must be length-delimited, got a varint")
        return value

    def _value(self, kind: str, wire_type: int, value: Value, depth: int, where: str) -> Any:
        if kind in SCALARS:
            expected = _SCALAR_WIRE[kind]
            if wire_type != expected:
                got = WIRE_NAMES.get(wire_type, str(wire_type))
                raise Invalid(
                    f"protobuf: {where} is {kind}, expected wire type {WIRE_NAMES[expected]}, got {got}"
                )
            if kind == "int":
                assert isinstance(value, int)
                return to_signed(value)
            if kind == "bool":
                return value != 0
            assert isinstance(value, bytes)
            if kind == "string":
                return _text(value)
            if kind == "bytes":
                return base64.b64encode(value).decode("ascii")
            number: float = struct.unpack("<d", value)[0]
            return number
        raw = self._length(value, where)
        special = WELL_KNOWN.get(kind)
        if special is not None:
            return special(raw)
        return self._message(kind, raw, depth + 1)

    def _repeated(self, kind: str, wire_type: int, value: Value, depth: int, where: str) -> list[Any]:
        if kind in ("int", "bool") and wire_type == LENGTH:
            assert isinstance(value, bytes)
            items: list[Any] = []
            pos = 0
            while pos < len(value):  # a packed run of varints
                item, pos = read_varint(value, pos)
                items.append(self._value(kind, VARINT, item, depth, where))
            return items
        return [self._value(kind, wire_type, value, depth, where)]

    def _entry(self, kind: str, raw: bytes, depth: int, where: str) -> tuple[str, Any]:
        key = ""
        item: Any = None
        seen = False
        for number, wire_type, value in fields(raw):
            if number == 1:
                key = self._value("string", wire_type, value, depth, where + " key")
            elif number == 2:
                item = self._value(kind, wire_type, value, depth, f"{where}[{key}]")
                seen = True
        if not seen:  # an absent value is the zero value of its type
            item = _ZERO[kind] if kind in SCALARS else self._value(kind, LENGTH, b"", depth, where)
        return key, item
