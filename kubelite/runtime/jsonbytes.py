"""JSON to and from bytes for the files written on every container start (state, spec, records, snapshots).

orjson when it is importable, several times faster than :mod:`json` (whose
indenting or key-sorting encoder is pure Python); :mod:`json` when it is not,
because the fast launcher runs the runtime without site-packages (``python -S``)
and a container must start there too. Both read what the other wrote. Whatever
orjson refuses to encode (integers past 64 bits, non-string keys) goes through
:mod:`json`, so both give the same answers, errors included.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - the no-site launcher
    orjson = None  # type: ignore[assignment]


def dumps(obj: Any, *, sort_keys: bool = False, indent: bool = False) -> bytes:
    if orjson is not None:
        option = (orjson.OPT_SORT_KEYS if sort_keys else 0) | (orjson.OPT_INDENT_2 if indent else 0)
        try:
            return orjson.dumps(obj, option=option)
        except TypeError:
            pass
    return json.dumps(obj, sort_keys=sort_keys, indent=2 if indent else None,
                      separators=None if indent else (",", ":")).encode()


def loads(data: bytes) -> Any:
    """``ValueError`` for what is not JSON, as :func:`json.loads`."""
    if orjson is not None:
        return orjson.loads(data)
    return json.loads(data)
