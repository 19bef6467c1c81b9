"""Running a check in a forked child, for tests that change the calling process irreversibly
(capabilities, seccomp filters, namespaces)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any


def in_child(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Run fn in a forked child; return its wait status and what it returned (or its error)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            os.close(r)
            out = json.dumps({"ok": fn()})
        except BaseException as e:  # noqa: BLE001
            out, code = json.dumps({"error": f"{type(e).__name__}: {e}"}), 1
        try:
            os.write(w, out.encode())
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    return status, json.loads(data) if data else None
