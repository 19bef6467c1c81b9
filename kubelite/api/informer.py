"""Informers: a list+watch cache of one resource, with change callbacks, as client-go's shared informers.

A controller reads from the cache (never from the API on its hot path) and is told
of every change through handlers. The informer lists, then watches from the list's
resourceVersion; when the watch ends it resumes from the last version it saw, and
when that version has been compacted (410 Gone) it lists again and reports the
difference (adds, updates, and deletes of what vanished meanwhile), so handlers see
a consistent sequence whatever happened to the connection.

Handlers are plain callables ``handler(event_type, obj, old)`` with ``event_type``
one of ``ADDED``, ``MODIFIED``, ``DELETED``; they run on the event loop and must
not block (a controller's handler only enqueues a key).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from kubelite.api.client import APIClient
from kubelite.errors import Gone, KubeliteError

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Handler = Callable[[str, Obj, Obj | None], None]


def object_key(obj: Obj) -> str:
    """``namespace/name`` for namespaced objects, ``name`` for cluster-scoped ones (client-go's key)."""
    md = obj.get("metadata") or {}
    ns = md.get("namespace")
    return f"{ns}/{md.get('name', '')}" if ns else str(md.get("name", ""))


class Informer:
    """``Informer(client, "/api/v1/pods")``, ``add_handler(h)``, ``await start()``, read ``get``/``list``."""

    def __init__(self, client: APIClient, path: str, *, label_selector: str | None = None,
                 field_selector: str | None = None, name: str = "") -> None:
        self.client = client
        self.path = path
        self.params: dict[str, Any] = {"labelSelector": label_selector, "fieldSelector": field_selector}
        self.name = name or path
        self.cache: dict[str, Obj] = {}
        self.handlers: list[Handler] = []
        self.resource_version = ""
        self.synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._indexes: dict[str, tuple[Callable[[Obj], list[str]], dict[str, set[str]]]] = {}

    def add_handler(self, handler: Handler) -> None:
        """Call ``handler`` for every change from now on; after sync it is first called with ADDED for each
        object already cached, so late subscribers miss nothing."""
        self.handlers.append(handler)
        if self.synced.is_set():
            for obj in list(self.cache.values()):
                handler("ADDED", obj, None)

    def add_index(self, name: str, func: Callable[[Obj], list[str]]) -> None:
        """An index from the values ``func(obj)`` to object keys, e.g. pods by ``spec.nodeName``."""
        index: dict[str, set[str]] = {}
        self._indexes[name] = (func, index)
        for key, obj in self.cache.items():
            for v in func(obj):
                index.setdefault(v, set()).add(key)

    def by_index(self, name: str, value: str) -> list[Obj]:
        keys = self._indexes[name][1].get(value, set())
        return [self.cache[k] for k in keys if k in self.cache]

    def get(self, key: str) -> Obj | None:
        return self.cache.get(key)

    def list(self) -> list[Obj]:
        return list(self.cache.values())

    async def start(self) -> None:
        """Begin list+watch in the background and return once the first list is cached."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"informer {self.name}")
        waiter = asyncio.ensure_future(self.synced.wait())
        done, _ = await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            waiter.cancel()
            self._task.result()  # raises whatever stopped it

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    # --- the loop -------------------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = 0.2
        need_list = True
        while True:
            try:
                if need_list:
                    await self._relist()
                    need_list = False
                async for etype, obj in self.client.watch(self.path, self.resource_version, **self.params):
                    delay = 0.2
                    self._apply(etype, obj)
            except asyncio.CancelledError:
                raise
            except Gone:
                need_list = True
                continue
            except KubeliteError as e:
                log.debug("informer %s: %s; retrying in %.1fs", self.name, e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception:  # a handler's bug must not stop the informer forever
                log.exception("informer %s failed; relisting", self.name)
                need_list = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _relist(self) -> None:
        out = await self.client.list(self.path, **self.params)
        fresh = {object_key(o): o for o in out.get("items") or []}
        self.resource_version = out.get("metadata", {}).get("resourceVersion", "")
        api_version, kind = out.get("apiVersion", ""), str(out.get("kind", "")).removesuffix("List")
        for key in [k for k in self.cache if k not in fresh]:
            self._store("DELETED", self.cache[key])
        for obj in fresh.values():
            obj.setdefault("apiVersion", api_version)
            obj.setdefault("kind", kind)
            self._store("ADDED", obj)
        self.synced.set()

    def _apply(self, etype: str, obj: Obj) -> None:
        rv = obj.get("metadata", {}).get("resourceVersion")
        if rv:
            self.resource_version = rv
        if etype == "BOOKMARK":
            return
        self._store(etype, obj)

    def _store(self, etype: str, obj: Obj) -> None:
        key = object_key(obj)
        old = self.cache.get(key)
        if etype == "DELETED":
            if key not in self.cache:
                return
            del self.cache[key]
        else:
            if old is not None and old.get("metadata", {}).get("resourceVersion") == \
                    obj.get("metadata", {}).get("resourceVersion"):
                return  # a relist that found nothing new
            self.cache[key] = obj
            etype = "ADDED" if old is None else "MODIFIED"
        for func, index in self._indexes.values():
            if old is not None:
                for v in func(old):
                    index.get(v, set()).discard(key)
            if etype != "DELETED":
                for v in func(obj):
                    index.setdefault(v, set()).add(key)
        for h in self.handlers:
            try:
                h(etype, obj, old)
            except Exception:
                log.exception("informer %s: handler failed", self.name)
