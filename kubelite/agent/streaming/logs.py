"""Container logs as the kubelet serves them: from the CRI log file, lines put back together.

Options follow ``PodLogOptions``: ``tailLines`` (the last N whole lines),
``sinceSeconds`` / ``sinceTime`` (lines logged at or after; the CRI
timestamps are RFC 3339 with nanoseconds in UTC, so they compare as strings
once cut to the same precision), ``timestamps`` (each line prefixed with its
time), ``limitBytes`` (stop after that many bytes, mid-line if need be),
``follow`` (keep reading while the container runs; end once it has exited
and the file has no more) and ``previous`` (the log of the last terminated
instance, which only the caller knows of). Lines from stdout and stderr come
interleaved in the order they were logged, as ``kubectl logs`` shows them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass

from kubelite.errors import Invalid
from kubelite.runtime.logs import LogRecord, read_records

POLL = 0.1


@dataclass
class LogOptions:
    follow: bool = False
    tail_lines: int | None = None
    since: str | None = None  # RFC 3339, UTC, compared with the record times
    timestamps: bool = False
    previous: bool = False
    limit_bytes: int | None = None


def _bool(query: Mapping[str, str], name: str) -> bool:
    v = query.get(name, "false").lower()
    if v not in ("true", "false", "1", "0", ""):
        raise Invalid(f"{name}: invalid boolean {v!r}")
    return v in ("true", "1")


def _int(query: Mapping[str, str], name: str, minimum: int) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        n = int(raw)
    except ValueError:
        raise Invalid(f"{name}: invalid integer {raw!r}") from None
    if n < minimum:
        raise Invalid(f"{name}: Invalid value: {n}: must be greater than or equal to {minimum}")
    return n


def _rfc3339(ts: float) -> str:
    whole = int(ts)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((ts - whole) * 1e9):09d}Z"


def _normalize(since: str) -> str:
    """An RFC 3339 time (any offset) as the CRI log's UTC form, cut to whole seconds as metav1.Time is
    (kube-apiserver hands the kubelet nothing finer)."""
    from datetime import UTC, datetime

    try:
        t = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"sinceTime: invalid RFC 3339 time {since!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return _rfc3339(float(int(t.timestamp())))


def parse_options(query: Mapping[str, str]) -> LogOptions:
    opts = LogOptions(follow=_bool(query, "follow"), timestamps=_bool(query, "timestamps"),
                      previous=_bool(query, "previous"), tail_lines=_int(query, "tailLines", 0),
                      limit_bytes=_int(query, "limitBytes", 1))
    seconds = _int(query, "sinceSeconds", 1)
    if seconds is not None and query.get("sinceTime"):
        raise Invalid("at most one of sinceTime or sinceSeconds may be specified")
    if seconds is not None:
        opts.since = _rfc3339(time.time() - seconds)
    elif query.get("sinceTime"):
        opts.since = _normalize(query["sinceTime"])
    return opts


class _Lines:
    """Joins partial (P) records with the final (F) one of the same stream."""

    def __init__(self, opts: LogOptions) -> None:
        self.opts = opts
        self.pending: dict[str, tuple[str, bytes]] = {}

    def feed(self, records: Iterable[LogRecord]) -> list[bytes]:
        out = []
        for r in records:
            first, data = self.pending.pop(r.stream, (r.time, b""))
            data += r.data
            if r.partial:
                self.pending[r.stream] = (first, data)
                continue
            if self.opts.since is not None and first[:30] < self.opts.since[:30]:
                continue
            out.append((first.encode() + b" " if self.opts.timestamps else b"") + data + b"\n")
        return out


async def stream_log(path: str, opts: LogOptions, running: Callable[[], bool]) -> AsyncIterator[bytes]:
    """The log's lines as chunks of bytes, following while ``running()`` says the container runs."""
    budget = opts.limit_bytes
    try:
        f = open(path, "rb")  # noqa: SIM115 - held across awaits, closed in finally
    except FileNotFoundError:
        return
    try:
        lines = _Lines(opts)
        first = lines.feed(read_records(f))
        if opts.tail_lines is not None:
            first = first[-opts.tail_lines:] if opts.tail_lines > 0 else []
        chunk = b"".join(first)
        while True:
            if chunk:
                if budget is not None:
                    chunk = chunk[:budget]
                    budget -= len(chunk)
                yield chunk
                if budget is not None and budget <= 0:
                    return
            if not opts.follow:
                return
            done = not running()
            chunk = b"".join(lines.feed(read_records(f)))
            if done and not chunk:
                return
            if not chunk:
                await asyncio.sleep(POLL)
    finally:
        f.close()
