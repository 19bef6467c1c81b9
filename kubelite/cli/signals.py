"""Foreground services stop on SIGTERM or SIGINT, handled by the event loop (never a KeyboardInterrupt
traceback): ``async with stop_signals() as stopping: ...; await stopping.wait()``."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def stop_signals() -> AsyncIterator[asyncio.Event]:
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    try:
        yield done
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
