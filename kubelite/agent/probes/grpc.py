"""gRPC probes: one ``grpc.health.v1.Health/Check`` call over HTTP/2 inside the pod's network namespace.

The kubelet dials the pod in plaintext (no TLS), asks for the probe's
``service`` (default ""), and calls the container healthy only when the answer
is SERVING. Rather than a gRPC stack, this speaks the few HTTP/2 frames one
unary call needs over a socket made in the pod's namespace: the client
preface, SETTINGS (acknowledging the server's), one HEADERS and one DATA frame
on stream 1, then reading HEADERS/CONTINUATION, DATA and trailers until the
stream ends (answering PINGs meanwhile). Header blocks go through
:mod:`kubelite.agent.probes.hpack`. The request and response messages are
tiny protobufs (field 1: the service name; field 1: the status enum), encoded
and decoded by hand. Messages are the kubelet's.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import Any
from urllib.parse import unquote

from kubelite.agent.probes.hpack import Decoder, HPACKError, encode
from kubelite.agent.probes.prober import (
    FAILURE,
    SUCCESS,
    UNKNOWN,
    USER_AGENT,
    DialError,
    ProbeResult,
    ProbeTarget,
    dial,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, CONTINUATION = 0, 1, 3, 4, 6, 7, 9
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
STATUS_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
CODE_NAMES = ["OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
              "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
              "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"]
MAX_FRAME = 1 << 20  # more than any health answer needs; a peer sending more is not a health server


class RPCError(Exception):
    pass


def _frame(type_: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([type_, flags]) + stream.to_bytes(4, "big") + payload


def _duration(seconds: float) -> str:
    """Go's time.Duration text for the timeouts probes have (whole seconds, or milliseconds)."""
    return f"{seconds:g}s" if seconds >= 1 else f"{seconds * 1000:g}ms"


def _request(service: str) -> bytes:
    name = service.encode()
    message = (b"\x0a" + _varint(len(name)) + name) if name else b""
    return b"\x00" + struct.pack(">I", len(message)) + message


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _status_of(data: bytes) -> int:
    """The HealthCheckResponse's status from the length-prefixed gRPC message (0 when absent: UNKNOWN)."""
    if len(data) < 5:
        raise RPCError("rpc error: code = Internal desc = a response without a message")
    if data[0] != 0:
        raise RPCError("rpc error: code = Internal desc = a compressed response, none was asked for")
    (length,) = struct.unpack(">I", data[1:5])
    msg, pos, status = data[5:5 + length], 0, 0
    while pos < len(msg):
        key, pos = _read_varint(msg, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(msg, pos)
            if field == 1:
                status = value
        elif wire == 2:
            n, pos = _read_varint(msg, pos)
            pos += n
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise RPCError("rpc error: code = Internal desc = malformed HealthCheckResponse")
    return status


def _read_varint(b: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(b) or shift > 63:
            raise RPCError("rpc error: code = Internal desc = malformed HealthCheckResponse")
        byte = b[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


async def health_check(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, authority: str,
                       service: str) -> tuple[list[tuple[str, str]], bytes]:
    """One unary Check call on a fresh connection: (every header and trailer field, the DATA received)."""
    headers = encode([(":method", "POST"), (":scheme", "http"), (":path", "/grpc.health.v1.Health/Check"),
                      (":authority", authority), ("content-type", "application/grpc"), ("te", "trailers"),
                      ("user-agent", USER_AGENT)])
    writer.write(PREFACE + _frame(SETTINGS, 0, 0) + _frame(HEADERS, END_HEADERS, 1, headers)
                 + _frame(DATA, END_STREAM, 1, _request(service)))
    await writer.drain()
    decoder = Decoder()
    fields: list[tuple[str, str]] = []
    data = bytearray()
    block = bytearray()
    block_ends_stream = False
    while True:
        head = await reader.readexactly(9)
        length = int.from_bytes(head[:3], "big")
        type_, flags, stream = head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        if length > MAX_FRAME:
            raise RPCError("connection error: frame too large")
        payload = await reader.readexactly(length)
        if type_ == SETTINGS and not flags & ACK:
            writer.write(_frame(SETTINGS, ACK, 0))
        elif type_ == PING and not flags & ACK:
            writer.write(_frame(PING, ACK, 0, payload))
        elif type_ == GOAWAY:
            code = int.from_bytes(payload[4:8], "big") if len(payload) >= 8 else 0
            raise RPCError(f"rpc error: code = Unavailable desc = the server closed the connection (GOAWAY {code})")
        elif type_ == RST_STREAM and stream == 1:
            code = int.from_bytes(payload[:4], "big") if len(payload) >= 4 else 0
            raise RPCError(f"rpc error: code = Internal desc = stream terminated by RST_STREAM with error code: "
                           f"{code}")
        elif type_ in (HEADERS, CONTINUATION) and stream == 1:
            if type_ == HEADERS:
                payload = _unpad(payload, flags)
                if flags & PRIORITY:
                    payload = payload[5:]
                block_ends_stream = bool(flags & END_STREAM)
            block += payload
            if flags & END_HEADERS:
                fields += decoder.decode(bytes(block))
                block.clear()
                if block_ends_stream:
                    return fields, bytes(data)
        elif type_ == DATA and stream == 1:
            data += _unpad(payload, flags)
            if flags & END_STREAM:
                return fields, bytes(data)
        await writer.drain()


def _unpad(payload: bytes, flags: int) -> bytes:
    if not flags & PADDED:
        return payload
    if not payload or payload[0] >= len(payload):
        raise RPCError("connection error: bad padding")
    return payload[1:len(payload) - payload[0]]


def verdict(fields: list[tuple[str, str]], data: bytes, timeout: float) -> ProbeResult:
    """The kubelet's reading of a Check answer."""
    found = {name: value for name, value in fields}
    status = found.get(":status", "")
    if status and status != "200":
        return ProbeResult(FAILURE, f"error: health rpc probe failed: rpc error: code = Unknown desc = unexpected "
                                    f"HTTP status code received from server: {status}")
    code_text = found.get("grpc-status", "0" if data else "")
    if not code_text.isdigit():
        return ProbeResult(FAILURE, "error: health rpc probe failed: rpc error: code = Internal desc = "
                                    "server closed the stream without sending trailers")
    code, message = int(code_text), unquote(found.get("grpc-message", ""))
    name = CODE_NAMES[code] if code < len(CODE_NAMES) else f"Code({code})"
    if code == 12:
        return ProbeResult(FAILURE, "timeout: this server does not implement the grpc health protocol "
                                    f"(grpc.health.v1.Health): {message}")
    if code == 4:
        return ProbeResult(FAILURE, f"timeout: health rpc did not complete within {_duration(timeout)}")
    if code != 0:
        return ProbeResult(FAILURE, f"error: health rpc probe failed: rpc error: code = {name} desc = {message}")
    try:
        health = _status_of(data)
    except RPCError as e:
        return ProbeResult(FAILURE, f"error: health rpc probe failed: {e}")
    if health != 1:
        return ProbeResult(FAILURE, f'service unhealthy (responded with "{STATUS_NAMES.get(health, health)}")')
    return ProbeResult(SUCCESS, "service healthy")


async def grpc_check(action: dict[str, Any], target: ProbeTarget, timeout: float) -> ProbeResult:
    """A gRPC health probe: ``port`` (a number; names are not allowed by the API) and optional ``service``."""
    port = action.get("port")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        return ProbeResult(UNKNOWN, f"invalid port number: {port!r}")
    service = action.get("service") or ""
    if not isinstance(service, str):
        return ProbeResult(UNKNOWN, f"invalid service name: {service!r}")
    addr = f"127.0.0.1:{port}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        async with asyncio.timeout(timeout):
            s = await dial(target.netns, "127.0.0.1", port)
    except (TimeoutError, DialError) as e:
        detail = "context deadline exceeded" if isinstance(e, TimeoutError) else str(e)
        return ProbeResult(FAILURE, f'timeout: failed to connect service "{addr}" within {_duration(timeout)}: '
                                    f"{detail}")
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout_at(deadline):
            reader, writer = await asyncio.open_connection(sock=s)
            fields, data = await health_check(reader, writer, addr, service)
    except TimeoutError:
        return ProbeResult(FAILURE, f"timeout: health rpc did not complete within {_duration(timeout)}")
    except (RPCError, HPACKError) as e:
        return ProbeResult(FAILURE, f"error: health rpc probe failed: {e}")
    except (OSError, EOFError) as e:
        return ProbeResult(FAILURE, "error: health rpc probe failed: rpc error: code = Unavailable desc = "
                                    f"connection closed: {e or type(e).__name__}")
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        else:
            s.close()
    return verdict(fields, data, timeout)
