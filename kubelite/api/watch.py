"""Watch: store events turned into Kubernetes watch events for one kind, namespace and selector.

A watch without a resourceVersion (or "0") starts, like kube-apiserver's, with
a synthetic ADDED event per existing object and then follows changes from that
list's revision; with a resourceVersion it follows changes strictly after it.
Selectors filter *transitions*: an object that stops matching is reported as
DELETED, one that starts matching as ADDED.

Changes come from the watch cache (:mod:`kubelite.api.watchcache`), shared by
every watch of the resource, or straight from the store when the cache does
not reach back far enough. They arrive in batches: everything that happened
since the watcher last looked, written to the connection at once. Waiting has
a timeout (for BOOKMARKs and the request's ``timeoutSeconds``); server
shutdown closes the source. A compacted resourceVersion ends the stream with
an ERROR event carrying a 410 Expired Status, as Kubernetes does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

from kubelite.api.errors import to_status
from kubelite.api.registry.base import Obj, Strategy
from kubelite.api.storage import Selection, Storage, parse_rv
from kubelite.api.watchcache import Entry, FellBehind, Source
from kubelite.errors import Gone

BOOKMARK_INTERVAL = 30.0
LIST_CHUNK = 500  # synthetic ADDED events per batch


class WatchEvent:
    """One event of a watch stream; ``object`` and ``line`` come from the shared entry when there is one."""

    __slots__ = ("type", "_object", "_entry")

    def __init__(self, type_: str, obj: Obj | None = None, entry: Entry | None = None) -> None:
        self.type, self._object, self._entry = type_, obj, entry

    @property
    def object(self) -> Obj:
        if self._object is None:
            assert self._entry is not None
            self._object = self._entry.obj()
        return self._object

    def line(self) -> bytes | None:
        """The event's JSON line, shared by every watcher, or None when it has to be encoded here."""
        return self._entry.line(self.type) if self._entry is not None else None


def _translate(e: Entry, s: Strategy, sel: Selection) -> WatchEvent | None:
    if sel.empty:
        if e.type == "DELETE":
            return WatchEvent("DELETED", entry=e)
        return WatchEvent("MODIFIED" if e.prev_kv is not None else "ADDED", entry=e)
    new = e.obj()
    old = e.prev()
    if e.type == "DELETE":
        return WatchEvent("DELETED", entry=e) if sel.matches(s, old or new) else None
    now = sel.matches(s, new)
    before = old is not None and sel.matches(s, old)
    if now and before:
        return WatchEvent("MODIFIED", entry=e)
    if now:
        return WatchEvent("ADDED", entry=e)
    if before:
        return WatchEvent("DELETED", entry=e)
    return None


async def watch_events(storage: Storage, s: Strategy, ns: str, sel: Selection, rv: str, timeout: float,
                       bookmarks: bool, stop: asyncio.Event) -> AsyncGenerator[list[WatchEvent], None]:
    """The watch stream as batches of events; ends at the deadline, on ``stop`` or after an ERROR event."""
    deadline = time.monotonic() + timeout
    last = parse_rv(rv)
    if last == 0:
        page = await storage.list_raw(s, ns, sel)
        for i in range(0, len(page.items), LIST_CHUNK):
            yield [WatchEvent("ADDED", entry=Entry("PUT", kv, None)) for kv in page.items[i:i + LIST_CHUNK]]
        last = page.revision
    caches = storage.watch_cache
    resource, prefix = storage.prefix(s, ""), storage.prefix(s, ns)
    try:
        source: Source = await caches.source(resource, prefix, last)
    except Gone as e:
        yield [WatchEvent("ERROR", to_status(Gone(f"too old resource version: {last} ({e})")).body())]
        return
    # Shutdown wakes the source instead of every waiter watching the stop event too.
    stopper = asyncio.get_running_loop().create_task(stop.wait())
    stopper.add_done_callback(lambda _t: source.close())
    loop = asyncio.get_running_loop()
    end = loop.time() + (deadline - time.monotonic())
    bookmark_at = loop.time() + BOOKMARK_INTERVAL
    try:
        while True:
            now = loop.time()
            if now >= end or stop.is_set() or source.ended:
                return
            if now >= bookmark_at:
                bookmark_at = now + BOOKMARK_INTERVAL
                if bookmarks:
                    yield [WatchEvent("BOOKMARK", {"kind": s.kind, "apiVersion": s.api_version,
                                                   "metadata": {"resourceVersion": str(last)}})]
            try:
                entries = await source.next(min(end, bookmark_at))
            except FellBehind:  # the cache moved on: the store has the rest
                source.close()
                source = await caches.from_store(prefix, last)
                continue
            except Gone as e:
                yield [WatchEvent("ERROR", to_status(Gone(f"too old resource version: {last} ({e})")).body())]
                return
            except Exception as e:  # noqa: BLE001 - the store's failure, reported in the stream
                yield [WatchEvent("ERROR", to_status(e).body())]
                return
            batch = []
            for entry in entries:
                last = entry.revision
                out = _translate(entry, s, sel)
                if out is not None:
                    batch.append(out)
            if batch:
                yield batch
    finally:
        stopper.cancel()
        source.close()
