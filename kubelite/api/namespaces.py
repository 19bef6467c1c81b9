"""Namespace lifecycle in the API: whether one exists or is Terminating (from memory), and how one is deleted.

kube-apiserver's NamespaceLifecycle admission reads namespaces from an
informer and falls back to a live read when the informer has not seen one;
this is the same idea without the full objects. Names known to exist are
kept with the revision they were seen at; a miss reads the store (and
remembers a hit), so a namespace made a moment ago by another server is
still found. Forgetting is what must never lag: a namespace deleted here is
forgotten at once, and one deleted anywhere else is forgotten when the
store's watch on ``/registry/namespaces/`` delivers the deletion.

Ordering makes it exact for this server and as good as the watch for
others: the watch is open (its start revision fixed) before any read is
remembered, so every deletion is either already visible to that read or
still to come through the watch; a deletion records a tombstone revision, so
a read or a PUT event older than the deletion cannot bring the name back.
If the watch breaks, everything is forgotten and it starts again.

The cache also knows whether a namespace is Terminating, which is what kube's
NamespaceLifecycle admission refuses creates in (:func:`terminating_error`,
kube's wording and the ``NamespaceTerminating`` cause that clients such as
``kubectl drain`` look for). A namespace never goes back from Terminating to
Active, so remembering the newest state seen is exact for this server: its
own DELETE records it at once (:meth:`NamespaceCache.terminating`).

The rest of the module is the namespace's own deletion, as kube's
``pkg/registry/core/namespace/storage``: :func:`plan_namespace_delete` (the
first DELETE marks it Terminating; it goes only once no finalizer holds it)
:func:`held` (the ``spec.finalizers`` that keep it, which the namespace
controller lifts through ``namespaces/NAME/finalize``) and
:func:`prepare_finalize` (that subresource writes them, never the status).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Final, Literal

from kubelite.api.deletion import Plan, plan_delete, validate_options
from kubelite.api.errors import Cause, Resource, ResourceForbidden
from kubelite.api.meta import now_rfc3339
from kubelite.api.registry.base import Obj, Strategy
from kubelite.errors import Gone, NotFound
from kubelite.store.contracts import Store

PREFIX = "/registry/namespaces/"
TERMINATING: Final = "Terminating"
Phase = Literal["Active", "Terminating"]
log = logging.getLogger(__name__)


def is_terminating(ns: Obj) -> bool:
    return bool(ns.get("metadata", {}).get("deletionTimestamp")) or (ns.get("status") or {}).get("phase") == TERMINATING


def _phase(value: bytes) -> Phase:
    try:
        ns = json.loads(value)
    except ValueError:
        return "Active"
    return TERMINATING if isinstance(ns, dict) and is_terminating(ns) else "Active"


class NamespaceCache:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._live: dict[str, tuple[int, Phase]] = {}  # name -> (the revision it was seen live at, its phase then)
        self._gone: dict[str, int] = {}  # name -> the revision of its deletion
        self._epoch = 0  # counts watch (re)starts: a read begun under another watch is not remembered
        self._running = False
        self._started = False
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def exists(self, name: str) -> bool:
        return await self.phase(name) is not None

    async def phase(self, name: str) -> Phase | None:
        """``Active``, ``Terminating``, or None when there is no such namespace."""
        known = self._live.get(name)
        if known is not None:
            return known[1]
        if not self._started and not self._closed:
            self._started = True
            self._task = asyncio.create_task(self._run(), name="kubelite-namespace-cache")
        epoch, running = self._epoch, self._running
        try:
            kv = await self.store.get(PREFIX + name)
        except NotFound:
            return None
        phase = _phase(kv.value)
        if running and self._running and self._epoch == epoch:
            self._remember(name, kv.mod_revision, phase)
        return phase

    def deleted(self, name: str, revision: int) -> None:
        """A deletion made through this server: forget the name now, not when the watch reports it."""
        self._live.pop(name, None)
        self._gone[name] = max(self._gone.get(name, 0), revision)

    def terminating(self, name: str, revision: int) -> None:
        """A DELETE through this server marked the namespace Terminating: refuse creates in it from now on."""
        self._remember(name, revision, TERMINATING)

    def _remember(self, name: str, revision: int, phase: Phase) -> None:
        if revision > self._gone.get(name, 0) and revision >= self._live.get(name, (0, phase))[0]:
            self._live[name] = (revision, phase)

    async def _run(self) -> None:
        last = 0
        try:
            while not self._closed:
                try:
                    if not last:
                        last = await self.store.current_revision()
                    async with await self.store.watch(PREFIX, revision=last) as w:
                        self._running = True
                        async for ev in w:
                            last = ev.revision
                            name = ev.kv.key[len(PREFIX):]
                            if ev.type == "DELETE":
                                self.deleted(name, ev.revision)
                            else:
                                self._remember(name, ev.revision, _phase(ev.kv.value))
                except asyncio.CancelledError:
                    raise
                except Gone:
                    last = 0  # history lost: start over from now, remembering nothing from before
                except Exception as e:  # noqa: BLE001 - resumed from the last revision seen
                    log.debug("namespace watch ended (%s); resuming", e)
                self._running = False
                if last == 0:
                    self._epoch += 1
                    self._live.clear()
                if not self._closed:
                    await asyncio.sleep(0.1)
        finally:
            self._running = False
            self._live.clear()

    async def close(self) -> None:
        self._closed = True
        self._live.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


def terminating_error(res: Resource, name: str, namespace: str) -> ResourceForbidden:
    """The 403 of kube's NamespaceLifecycle admission for a create in a Terminating namespace."""
    cause = Cause("NamespaceTerminating", "metadata.namespace", f"namespace {namespace} is being terminated")
    return ResourceForbidden(res, name, f"unable to create new content in namespace {namespace} because it is "
                             "being terminated", (cause,))


def spec_finalizers(ns: Obj) -> list[str]:
    found = (ns.get("spec") or {}).get("finalizers") if isinstance(ns.get("spec"), dict) else None
    return list(found) if isinstance(found, list) else []


def held(s: Strategy, obj: Obj) -> bool:
    """Whether finalizers keep ``obj`` from going: its own, and for a namespace also ``spec.finalizers``."""
    if obj.get("metadata", {}).get("finalizers"):
        return True
    return is_namespace(s) and bool(spec_finalizers(obj))


def is_namespace(s: Strategy) -> bool:
    return s.kind == "Namespace" and not s.group


def prepare_finalize(new: Obj, old: Obj) -> None:
    """``namespaces/NAME/finalize`` writes ``spec.finalizers`` (and metadata, as any update), never the status."""
    if "status" in old:
        new["status"] = old["status"]
    else:
        new.pop("status", None)


def plan_namespace_delete(s: Strategy, ns: Obj, options: Obj) -> Plan:
    """What a DELETE does to a namespace (kube's namespace ``REST.Delete``); mutates ``ns`` like ``plan_delete``.

    The first DELETE marks it: ``deletionTimestamp`` (grace 0), ``status.phase: Terminating`` and the propagation
    policy's ``orphan``/``foregroundDeletion`` finalizer; nothing is deleted then, the namespace controller
    empties it and lifts ``kubernetes`` from ``spec.finalizers``. A DELETE of a Terminating namespace that spec
    finalizers still hold changes nothing. Without any finalizer it is the ordinary delete. Unlike kube, a
    first DELETE of a namespace that nothing holds (``spec.finalizers`` emptied through ``finalize`` beforehand)
    deletes it at once rather than leaving it Terminating until a second DELETE.
    """
    if ns["metadata"].get("deletionTimestamp"):
        if spec_finalizers(ns):
            validate_options(options)
            return Plan("none", ns)
        return plan_delete(s, ns, options)
    plan = plan_delete(s, ns, options)
    if plan.action == "delete" and not spec_finalizers(ns):
        return plan
    meta = ns["metadata"]
    if not meta.get("deletionTimestamp"):
        meta["deletionTimestamp"] = now_rfc3339()
        meta["deletionGracePeriodSeconds"] = 0
    ns["status"] = {**(ns.get("status") or {}), "phase": TERMINATING}
    return Plan("update", ns)
