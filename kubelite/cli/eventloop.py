"""The long-running services (`kubelite up`, `server`, `agent`) run on uvloop.

Every request to the API server, the agent and the API client is HTTPS. asyncio's TLS transport is pure
Python (``sslproto``); uvloop's is libuv's loop with the TLS buffering in C. Measured on this machine with a
sequential client against the API server alone: a GET took ~410 µs of server CPU on asyncio and ~300 µs on
uvloop, a Lease PATCH ~1,380 and ~1,100 µs.

``KUBELITE_EVENT_LOOP=asyncio`` runs the standard loop instead, to compare or to rule uvloop out.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    if os.environ.get("KUBELITE_EVENT_LOOP", "uvloop") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:  # a tree run without its dependencies installed: still works, only slower
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the services' loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
