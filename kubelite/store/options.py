"""Tunables shared by every driver, read from the store URL's query string.

A store is configured by one string (``--datastore``), so its knobs live in
the URL: ``sqlite:///var/lib/kubelite/state.db?retention=300&keep=1000``.
Unknown parameters are refused rather than ignored, so a typo is noticed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from kubelite.errors import Invalid


@dataclass(frozen=True)
class StoreOptions:
    retention: float = 300.0  # seconds of history automatic compaction keeps at least
    keep: int = 1000  # revisions of history automatic compaction keeps at least
    compact_interval: float = 60.0  # seconds between automatic compactions; 0 turns them off
    watch_queue: int = 1000  # events a watcher may lag behind before it is dropped (sqlite)
    readers: int = 4  # reader threads (sqlite)
    timeout: float = 10.0  # seconds per request (etcd)
    ca: str = ""  # TLS files (etcd+https)
    cert: str = ""
    key: str = ""

    @classmethod
    def from_query(cls, params: dict[str, list[str]]) -> StoreOptions:
        known = {f.name: f for f in fields(cls)}
        kw: dict[str, Any] = {}
        for name, values in params.items():
            f = known.get(name)
            if f is None:
                raise Invalid(f"unknown datastore option {name!r} (known: {', '.join(sorted(known))})")
            raw = values[-1]
            try:
                typed: object = {"float": float, "int": int}.get(str(f.type), str)(raw)
            except ValueError:
                raise Invalid(f"datastore option {name}={raw!r}: not a {f.type}") from None
            if isinstance(typed, int | float) and typed < 0:
                raise Invalid(f"datastore option {name}={raw!r} must not be negative")
            kw[name] = typed
        out = cls(**kw)
        if out.watch_queue < 1 or out.readers < 1:
            raise Invalid("datastore options watch_queue and readers must be at least 1")
        return out
