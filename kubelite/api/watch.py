"""Watch: store events turned into Kubernetes watch events for one kind, namespace and selector.

A watch without a resourceVersion (or "0") starts, like kube-apiserver's, with
a synthetic ADDED event per existing object and then follows changes from that
list's revision; with a resourceVersion it follows changes strictly after it.
Selectors filter *transitions*: an object that stops matching is reported as
DELETED, one that starts matching as ADDED. A pump task moves store events to
a queue so the consumer can wait with a timeout (for BOOKMARKs, the request's
``timeoutSeconds`` and server shutdown) without cancelling the store's
iterator mid-read. A compacted resourceVersion ends the stream with an ERROR
event carrying a 410 Expired Status, as Kubernetes does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from kubelite.api.errors import to_status
from kubelite.api.registry.base import Obj, Strategy
from kubelite.api.storage import Selection, Storage, decode, parse_rv
from kubelite.errors import Gone
from kubelite.store.contracts import Event, WatchTooSlow

BOOKMARK_INTERVAL = 30.0
_END = object()


@dataclass
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
    object: Obj


def _translate(ev: Event, s: Strategy, sel: Selection) -> WatchEvent | None:
    new = decode(ev.kv)
    old = decode(ev.prev_kv) if ev.prev_kv is not None else None
    if ev.type == "DELETE":
        return WatchEvent("DELETED", new) if sel.matches(s, old or new) else None
    now = sel.matches(s, new)
    before = old is not None and sel.matches(s, old)
    if now and before:
        return WatchEvent("MODIFIED", new)
    if now:
        return WatchEvent("ADDED", new)
    if before:
        return WatchEvent("DELETED", new)
    return None


async def watch_events(storage: Storage, s: Strategy, ns: str, sel: Selection, rv: str, timeout: float,
                       bookmarks: bool, stop: asyncio.Event) -> AsyncGenerator[WatchEvent, None]:
    deadline = time.monotonic() + timeout
    last = parse_rv(rv)
    if last == 0:
        page = await storage.list(s, ns, sel)
        for obj in page.items:
            yield WatchEvent("ADDED", obj)
        last = page.revision
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=1000)

    async def pump(revision: int) -> None:
        while True:
            try:
                async with await storage.store.watch(storage.prefix(s, ns), revision=revision) as w:
                    async for ev in w:
                        revision = ev.revision
                        await queue.put(ev)
                return
            except WatchTooSlow:
                continue
            except Exception as e:  # noqa: BLE001 - handed to the consumer, which reports it
                await queue.put(e)
                return

    task = asyncio.create_task(pump(last))
    stopper = asyncio.create_task(stop.wait())
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or stop.is_set():
                return
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, stopper}, timeout=min(left, BOOKMARK_INTERVAL),
                                         return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await getter
                if bookmarks and not stop.is_set() and time.monotonic() < deadline:
                    yield WatchEvent("BOOKMARK", {"kind": s.kind, "apiVersion": s.api_version,
                                                  "metadata": {"resourceVersion": str(last)}})
                continue
            item = getter.result()
            if isinstance(item, Gone):
                yield WatchEvent("ERROR", to_status(Gone(f"too old resource version: {last} ({item})")).body())
                return
            if isinstance(item, BaseException):
                yield WatchEvent("ERROR", to_status(item).body())
                return
            assert isinstance(item, Event)
            last = item.revision
            out = _translate(item, s, sel)
            if out is not None:
                yield out
    finally:
        for t in (task, stopper):
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
