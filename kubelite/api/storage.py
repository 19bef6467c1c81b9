"""Generic REST storage: the one place where API objects meet the store.

Keys are ``/registry/<plural>/<namespace>/<name>`` (cluster-scoped kinds drop
the namespace). Values are compact JSON without ``resourceVersion``: the
store's ``mod_revision`` *is* the resourceVersion, set on every read, so the
two can never disagree. Every write is a compare-and-swap on the revision read
just before (kube's ``GuaranteedUpdate``): a client that sent a
resourceVersion gets 409 Conflict on a race, a patch without one is simply
retried on the fresh object. Create/update run the kind's strategy hooks in
Kubernetes' order: prepare, default, validate, then metadata bookkeeping.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from kubelite.api import jsonfast
from kubelite.api.allocators import Allocators
from kubelite.api.deletion import plan_delete
from kubelite.api.errors import (
    BadRequest,
    FieldsInvalid,
    Resource,
    ResourceConflict,
    ResourceExists,
    ResourceForbidden,
    ResourceNotFound,
)
from kubelite.api.meta import generate_name, new_uid, now_rfc3339
from kubelite.api.namespaces import (
    TERMINATING,
    NamespaceCache,
    held,
    is_namespace,
    plan_namespace_delete,
    prepare_finalize,
    terminating_error,
)
from kubelite.api.registry import REGISTRY, Registry
from kubelite.api.registry.base import Obj, Strategy
from kubelite.api.selectors import FieldRequirement, label_predicate, parse_field_selector
from kubelite.errors import AlreadyExists, Conflict, Invalid, NotFound
from kubelite.store.contracts import KeyValue, Store

NAMESPACES = Resource("", "namespaces", "Namespace")
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
UPDATE_RETRIES = 8
Transform = Callable[[Obj], Obj]
Track = Callable[[Obj | None, Obj], None]  # (old or None on create, new): sets new's managedFields


@dataclass
class Selection:
    """A request's label and field selectors, compiled for one kind."""

    labels: Callable[[dict[str, str]], bool] | None = None
    fields: list[FieldRequirement] = field(default_factory=list)

    @classmethod
    def parse(cls, s: Strategy, label_selector: str, field_selector: str) -> Selection:
        reqs = parse_field_selector(field_selector)
        for r in reqs:
            if s.field_value({"metadata": {}}, r.field) is None:
                raise BadRequest(f'field label not supported: {r.field}')
        return cls(label_predicate(label_selector), reqs)

    def matches(self, s: Strategy, obj: Obj) -> bool:
        if self.labels and not self.labels(obj.get("metadata", {}).get("labels") or {}):
            return False
        return all((s.field_value(obj, r.field) == r.value) == r.equal for r in self.fields)

    @property
    def empty(self) -> bool:
        return self.labels is None and not self.fields


@dataclass
class Page:
    items: list[Obj]
    revision: int
    continue_key: str = ""


@dataclass
class RawPage:
    """A page of stored values, selected but not decoded: :func:`item_json` turns one into response bytes."""

    items: list[KeyValue]
    revision: int
    continue_key: str = ""


def encode(obj: Obj) -> bytes:
    meta = obj.get("metadata", {})
    stored = dict(obj, metadata={k: v for k, v in meta.items() if k != "resourceVersion"})
    return jsonfast.dumps(stored)


def decode(kv: KeyValue) -> Obj:
    obj: Obj = jsonfast.loads(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
    return obj


def item_json(kv: KeyValue) -> bytes:
    """The JSON of ``decode(kv)`` (same content), from the stored bytes without decoding when it can."""
    out = jsonfast.with_resource_version(kv.value, kv.mod_revision)
    return out if out is not None else jsonfast.dumps(decode(kv))


def parse_rv(rv: object) -> int:
    if rv in (None, ""):
        return 0
    try:
        n = int(str(rv))
    except ValueError:
        raise BadRequest(f"invalid resource version: {rv!r}") from None
    if n < 0:
        raise BadRequest(f"invalid resource version: {rv!r}")
    return n


class Storage:
    """CRUD for every registered kind over one :class:`~kubelite.store.contracts.Store`."""

    def __init__(self, store: Store, registry: Registry = REGISTRY) -> None:
        self.store = store
        self.registry = registry
        self.allocators = Allocators(store)  # Service cluster IPs and node ports
        self.namespaces = NamespaceCache(store)  # the existence check of namespaced creates
        self.views: builtins.list[Storage] = []  # Storages over wrappers of this store (registry/events.py)
        from kubelite.api.watchcache import WatchCaches  # it reads values with this module's decode

        self.watch_cache = WatchCaches(store)  # one store watch per watched resource, shared

    async def close(self) -> None:
        """Stop the background watches (namespace and watch caches); the store itself belongs to the caller."""
        await self.namespaces.close()
        await self.watch_cache.close()
        for v in self.views:
            await v.close()

    # -- keys ------------------------------------------------------------------

    @staticmethod
    def key(s: Strategy, ns: str, name: str) -> str:
        return f"/registry/{s.plural}/{ns}/{name}" if s.namespaced else f"/registry/{s.plural}/{name}"

    @staticmethod
    def prefix(s: Strategy, ns: str) -> str:
        return f"/registry/{s.plural}/{ns}/" if s.namespaced and ns else f"/registry/{s.plural}/"

    # -- reads -------------------------------------------------------------------

    async def get(self, s: Strategy, ns: str, name: str) -> Obj:
        try:
            return decode(await self.store.get(self.key(s, ns, name)))
        except NotFound:
            raise ResourceNotFound(s.resource, name) from None

    async def list(self, s: Strategy, ns: str, sel: Selection, limit: int = 0, cont: str = "") -> Page:
        page = await self.list_raw(s, ns, sel, limit, cont)
        return Page([decode(kv) for kv in page.items], page.revision, page.continue_key)

    async def list_raw(self, s: Strategy, ns: str, sel: Selection, limit: int = 0, cont: str = "") -> RawPage:
        """:meth:`list` without decoding the items (a selector decodes each one only to match it)."""
        revision, start = 0, ""
        if cont:
            revision, start = decode_continue(cont)
        prefix = self.prefix(s, ns)
        items: list[KeyValue] = []
        while True:
            want = max(limit - len(items), 100 if not sel.empty else 0) if limit else 0
            res = await self.store.list(prefix, revision=revision, limit=want, start_after=start)
            revision = res.revision
            if sel.empty and not limit:
                items.extend(res.items)
            else:
                for i, kv in enumerate(res.items):
                    if sel.empty or sel.matches(s, decode(kv)):
                        items.append(kv)
                        if limit and len(items) >= limit:
                            more = res.more or i < len(res.items) - 1
                            return RawPage(items, revision, encode_continue(revision, kv.key) if more else "")
            if not res.more:
                return RawPage(items, revision)
            start = res.continue_key

    # -- writes ------------------------------------------------------------------

    async def ensure_namespace(self, ns: str, creating: Resource | None = None, name: str = "") -> None:
        """404 unless ``ns`` exists; with ``creating`` (the resource and name a create is for), 403 while it is
        Terminating, as kube's NamespaceLifecycle admission (updates and deletes in it go on)."""
        phase = await self.namespaces.phase(ns)
        if phase is None:
            raise ResourceNotFound(NAMESPACES, ns)
        if phase == TERMINATING and creating is not None:
            raise terminating_error(creating, name, ns)

    async def create(self, s: Strategy, ns: str, obj: Obj, dry_run: bool = False, track: Track | None = None) -> Obj:
        obj = jsonfast.copy(obj)
        obj["apiVersion"], obj["kind"] = s.api_version, s.kind
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise BadRequest("metadata must be an object")
        if s.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise BadRequest("the namespace of the provided object does not match the namespace sent on the "
                                 "request")
            meta["namespace"] = ns
        if meta.get("resourceVersion"):
            raise BadRequest("resourceVersion should not be set on objects to be created")
        for k in ("uid", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"):
            meta.pop(k, None)
        meta["creationTimestamp"] = now_rfc3339()
        meta["uid"] = new_uid()
        if "spec" in obj or s.group == "apps":
            meta["generation"] = 1
        s.prepare_create(obj)
        base = meta.get("generateName") if not meta.get("name") else None
        if base:
            meta["name"] = generate_name(base)
        s.complete(obj)
        causes = s.validate(obj)
        if causes:
            raise FieldsInvalid(s.resource, str(meta.get("name") or base or ""), causes)
        if track is not None:  # managedFields bookkeeping (kubelite.api.managedfields), last before writing
            track(None, obj)
        if s.namespaced:
            await self.ensure_namespace(ns, s.resource, "" if base else str(meta.get("name") or ""))
        taken = await self.allocators.admit(s, obj, None, dry_run)
        if dry_run:
            return obj
        try:
            for attempt in range(8):
                try:
                    kv = await self.store.create(self.key(s, ns, meta["name"]), encode(obj))
                    if s.kind == "Namespace" and not s.group:
                        await self.default_service_account(meta["name"])
                    meta["resourceVersion"] = str(kv.mod_revision)  # obj is what was stored: no decoding
                    return obj
                except AlreadyExists:
                    if not base or attempt == 7:
                        raise ResourceExists(s.resource, meta["name"]) from None
                    meta["name"] = generate_name(base)
        except BaseException:
            await self.allocators.undo(taken)
            raise
        raise AssertionError("unreachable")

    async def default_service_account(self, ns: str) -> None:
        """Stop-gap until the namespace controller (issue 5): every namespace gets a ``default`` ServiceAccount."""
        sa = self.registry.lookup("", "v1", "serviceaccounts")
        if sa is not None:
            try:
                await self.create(sa, ns, {"metadata": {"name": "default"}})
            except AlreadyExists:
                pass

    async def update(self, s: Strategy, ns: str, name: str, transform: Transform, subresource: str = "",
                     dry_run: bool = False, track: Track | None = None) -> Obj:
        """Read, transform, check and write back with a compare-and-swap, retrying only unversioned races."""
        for _ in range(UPDATE_RETRIES):
            try:
                kv = await self.store.get(self.key(s, ns, name))
            except NotFound:
                raise ResourceNotFound(s.resource, name) from None
            old = decode(kv)
            new = transform(jsonfast.copy(old))
            client_rv = parse_rv(new.get("metadata", {}).get("resourceVersion"))
            if client_rv and client_rv != kv.mod_revision:
                raise ResourceConflict(s.resource, name)
            new = self._prepare_update(s, ns, name, new, old, subresource)
            if track is not None:
                track(old, new)
            if new == old:
                return old
            taken = await self.allocators.admit(s, new, old, dry_run)
            if dry_run:
                return new
            try:
                if new["metadata"].get("deletionTimestamp") and not held(s, new) and held(s, old):
                    # As kube-apiserver: an update deletes only when it removed the last finalizer (for a
                    # namespace, spec.finalizers count too: its finalize is such an update); a status write to a
                    # pod in its grace period must not end that grace period.
                    out = decode(await self.store.delete(kv.key, expected_revision=kv.mod_revision))
                    self._deleted(s, out)
                    await self.allocators.release(s, None, old)
                    return out
                out = decode(await self.store.update(kv.key, encode(new), expected_revision=kv.mod_revision))
                await self.allocators.release(s, new, old)
                return out
            except Conflict:
                await self.allocators.undo(taken)
                if client_rv:
                    raise ResourceConflict(s.resource, name) from None
            except NotFound:
                await self.allocators.undo(taken)
                raise ResourceNotFound(s.resource, name) from None
        raise ResourceConflict(s.resource, name, "too many concurrent updates, please try again")

    def _prepare_update(self, s: Strategy, ns: str, name: str, new: Obj, old: Obj, subresource: str) -> Obj:
        if not isinstance(new, dict) or not isinstance(new.get("metadata", {}), dict):
            raise BadRequest("the object must be a JSON object with an object metadata")
        meta = new.setdefault("metadata", {})
        if meta.get("name", name) != name:
            raise BadRequest(f"the name of the object ({meta.get('name')}) does not match the name on the URL "
                             f"({name})")
        if s.namespaced and meta.get("namespace", ns) != ns:
            raise BadRequest("the namespace of the provided object does not match the namespace sent on the request")
        new["apiVersion"], new["kind"] = s.api_version, s.kind
        old_meta = old["metadata"]
        for k in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "generation"):
            if k in old_meta:
                meta[k] = old_meta[k]
            else:
                meta.pop(k, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        meta.pop("selfLink", None)
        if subresource == "status":
            s.prepare_status_update(new, old)
        elif subresource == "finalize":  # namespaces/NAME/finalize: spec.finalizers (and metadata), not status
            prepare_finalize(new, old)
        else:
            s.prepare_update(new, old)
        s.complete(new)
        causes = s.validate_update(new, old)
        if causes:
            raise FieldsInvalid(s.resource, name, causes)
        if "generation" in old_meta and s.spec_changed(new, old):
            meta["generation"] = int(old_meta["generation"]) + 1
        return new

    def _deleted(self, s: Strategy, out: Obj) -> None:
        if is_namespace(s):
            self.namespaces.deleted(out["metadata"]["name"], int(out["metadata"]["resourceVersion"]))

    async def delete(self, s: Strategy, ns: str, name: str, options: Obj | None = None,
                     dry_run: bool = False) -> Obj:
        options = options or {}
        pre = options.get("preconditions") or {}
        if s.kind == "Namespace" and name in SYSTEM_NAMESPACES[:3]:
            raise ResourceForbidden(s.resource, name, "this namespace may not be deleted")
        for _ in range(UPDATE_RETRIES):
            try:
                kv = await self.store.get(self.key(s, ns, name))
            except NotFound:
                raise ResourceNotFound(s.resource, name) from None
            obj = decode(kv)
            meta = obj["metadata"]
            if pre.get("uid") and pre["uid"] != meta.get("uid"):
                raise ResourceConflict(s.resource, name, f"Precondition failed: UID in precondition: {pre['uid']}, "
                                       f"UID in object meta: {meta.get('uid')}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
                raise ResourceConflict(s.resource, name, "Precondition failed: ResourceVersion in precondition: "
                                       f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                                       f"{meta['resourceVersion']}")
            # graceful deletion, propagation finalizers (kubelite.api.deletion); a namespace is first marked
            # Terminating and emptied by the namespace controller (kubelite.api.namespaces)
            plan = plan_namespace_delete(s, obj, options) if is_namespace(s) else plan_delete(s, obj, options)
            if dry_run or options.get("dryRun") or plan.action == "none":
                return obj
            try:
                if plan.action == "update":
                    out = decode(await self.store.update(kv.key, encode(obj), expected_revision=kv.mod_revision))
                    if is_namespace(s):
                        self.namespaces.terminating(name, int(out["metadata"]["resourceVersion"]))
                    return out
                out = decode(await self.store.delete(kv.key, expected_revision=kv.mod_revision))
                self._deleted(s, out)
                await self.allocators.release(s, None, out)
                return out
            except Conflict:
                continue
            except NotFound:
                raise ResourceNotFound(s.resource, name) from None
        raise ResourceConflict(s.resource, name, "too many concurrent updates, please try again")

    async def delete_collection(self, s: Strategy, ns: str, sel: Selection, options: Obj | None = None,
                                dry_run: bool = False) -> builtins.list[Obj]:
        out: builtins.list[Obj] = []
        for obj in (await self.list(s, ns, sel)).items:
            meta = obj["metadata"]
            try:
                out.append(await self.delete(s, meta.get("namespace", ""), meta["name"], options, dry_run))
            except (NotFound, ResourceForbidden):
                continue
        return out


def encode_continue(revision: int, key: str) -> str:
    import base64

    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_continue(token: str) -> tuple[int, str]:
    import base64

    try:
        raw = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        rev, start = int(raw["rv"]), str(raw["start"])
    except (ValueError, KeyError, TypeError):
        raise BadRequest("continue key is not valid: incorrect encoded start resourceVersion (version "
                         "meta.k8s.io/v1)") from None
    if rev <= 0 or not start:
        raise Invalid("continue key is not valid")
    return rev, start
