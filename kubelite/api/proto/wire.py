"""The protobuf wire format, read-only: varints and (field number, wire type, value) triples.

Kubernetes' messages are proto2 as written by gogo-protobuf, so a reader needs
only varints (wire type 0), length-delimited bytes (2) and, for completeness,
the fixed 64- and 32-bit types (1 and 5). Groups (3, 4) are never produced by
Kubernetes and are refused. Every read is bounds-checked and every failure is
an :class:`~kubelite.errors.Invalid` with one line saying what broke where, so
a hostile body can never surface as an ``IndexError`` at the HTTP edge.
"""

from collections.abc import Iterator

from kubelite.errors import Invalid

VARINT = 0
FIXED64 = 1
LENGTH = 2
FIXED32 = 5

WIRE_NAMES = {VARINT: "varint", FIXED64: "fixed64", LENGTH: "length-delimited", FIXED32: "fixed32"}

_MASK64 = (1 << 64) - 1


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Return the unsigned varint at ``pos`` (truncated to 64 bits) and the position after it."""
    result = 0
    shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise Invalid(f"protobuf: truncated varint at byte {pos}")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 70:
            raise Invalid(f"protobuf: varint longer than 10 bytes at byte {pos}")


def to_signed(value: int) -> int:
    """Reinterpret a 64-bit varint as the two's-complement int64/int32 Go wrote."""
    return value - (1 << 64) if value >= 1 << 63 else value


Value = int | bytes


def fields(buf: bytes) -> Iterator[tuple[int, int, Value]]:
    """Yield ``(number, wire_type, value)`` for every field of one message, in wire order.

    A varint's value is its unsigned integer; every other wire type's value is
    its raw bytes (for length-delimited fields: the payload without the length).
    """
    pos = 0
    end = len(buf)
    while pos < end:
        start = pos
        key, pos = read_varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0 or number > 0x1FFFFFFF:
            raise Invalid(f"protobuf: invalid field number {number} at byte {start}")
        value: Value
        if wire_type == VARINT:
            value, pos = read_varint(buf, pos)
        elif wire_type == LENGTH:
            length, pos = read_varint(buf, pos)
            if length > end - pos:
                raise Invalid(
                    f"protobuf: field {number} at byte {start} claims {length} bytes, only {end - pos} remain"
                )
            value = buf[pos : pos + length]
            pos += length
        elif wire_type in (FIXED64, FIXED32):
            size = 8 if wire_type == FIXED64 else 4
            if size > end - pos:
                raise Invalid(f"protobuf: truncated fixed-width field {number} at byte {start}")
            value = buf[pos : pos + size]
            pos += size
        elif wire_type in (3, 4):
            raise Invalid(f"protobuf: field {number} at byte {start} uses the unsupported group wire type")
        else:
            raise Invalid(f"protobuf: field {number} at byte {start} has invalid wire type {wire_type}")
        yield number, wire_type, value
