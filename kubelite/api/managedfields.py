"""``metadata.managedFields``: who owns which field, kept for every write as kube-apiserver keeps it.

Every entry is one *manager identity* — manager name, operation (``Apply`` or
``Update``), subresource, and for updaters the apiVersion — with a field set
(:mod:`kubelite.api.fieldpath`). One function, :func:`reconcile`, is
structured-merge-diff's ``Updater.update``: compare the live and the new
object; fields another manager owns that this write changes are conflicts
(an error for an applier without ``force``, a transfer of ownership for
everything else); fields that disappeared from the object are owned by no one
anymore; entries left empty vanish. Updaters then gain what they changed
(:func:`tracker`, wired into every create/update/patch), appliers own exactly
their applied configuration (:mod:`kubelite.api.apply`).

Fields the server owns (name, uid, resourceVersion, ...) are never tracked, nor
``status`` through the main resource of a kind with a status subresource
(Kubernetes' ResetFields), nor anything but ``status`` through ``/status``.
A time is stamped only on the entry of the manager whose write changed
something, so a no-op write stays a no-op and writes nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubelite.api import fieldpath
from kubelite.api.errors import ApplyConflict, Cause, FieldsInvalid, Resource, required
from kubelite.api.fieldpath import FieldSet, Node, Path
from kubelite.api.meta import now_rfc3339
from kubelite.api.registry.base import Obj, Strategy
from kubelite.api.schematypes import type_for

APPLY, UPDATE = "Apply", "Update"
_ABSENT = object()
SERVER_OWNED = ("name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds")
Track = Callable[[Obj | None, Obj], None]


@dataclass
class Entry:
    manager: str
    operation: str
    api_version: str
    time: str = ""
    fields: FieldSet = field(default_factory=set)
    subresource: str = ""

    @property
    def ident(self) -> tuple[str, str, str, str]:
        return (self.manager, self.operation, self.subresource, "" if self.operation == APPLY else self.api_version)

    def describe(self) -> str:
        """How Kubernetes names a manager in conflict messages."""
        out = f'"{self.manager}"'
        if self.subresource:
            out += f' with subresource "{self.subresource}"'
        if self.operation == UPDATE:
            out += f" using {self.api_version}"
        return out


def decode_entries(raw: Any) -> list[Entry]:
    """Entries from ``metadata.managedFields``; ValueError when they are malformed."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError("managedFields must be a list")
    out: list[Entry] = []
    for e in raw:
        if not isinstance(e, dict):
            raise ValueError("a managedFields entry must be an object")
        if e.get("fieldsType", "FieldsV1") not in ("FieldsV1", None):
            raise ValueError(f"unsupported fieldsType {e.get('fieldsType')!r}")
        out.append(Entry(str(e.get("manager") or ""), str(e.get("operation") or UPDATE), str(e.get("apiVersion") or ""),
                         str(e.get("time") or ""), fieldpath.decode(e.get("fieldsV1") or {}),
                         str(e.get("subresource") or "")))
    merged: dict[tuple[str, str, str, str], Entry] = {}
    for e in out:
        if e.ident in merged:
            merged[e.ident].fields |= e.fields
        else:
            merged[e.ident] = e
    return list(merged.values())


def encode_entries(entries: list[Entry]) -> list[dict[str, Any]]:
    """Entries as ``managedFields``, sorted as Kubernetes sorts them (operation, time, manager)."""
    out = []
    for e in sorted(entries, key=lambda e: (e.operation, e.time, e.manager, e.api_version, e.subresource)):
        if not e.fields:
            continue
        d: dict[str, Any] = {"manager": e.manager, "operation": e.operation, "apiVersion": e.api_version}
        if e.time:
            d["time"] = e.time
        d["fieldsType"] = "FieldsV1"
        d["fieldsV1"] = fieldpath.encode(e.fields)
        if e.subresource:
            d["subresource"] = e.subresource
        out.append(d)
    return out


# -- the manager of a request -------------------------------------------------------------


def manager_name(param: str, user_agent: str, applying: bool) -> str:
    """The ``fieldManager`` query parameter, or for updates the User-Agent's product (``kubectl``...)."""
    if len(param) > 128:
        raise patch_options_invalid(Cause("FieldValueTooLong", "fieldManager",
                                     "Too long: may not be more than 128 bytes"))
    if any(not unicodedata.category(c).startswith(("L", "M", "N", "P", "S", "Zs")) for c in param):
        raise patch_options_invalid(Cause(
            "FieldValueInvalid", "fieldManager", f'Invalid value: "{param}": must only contain printable characters'))
    if param:
        return param
    if applying:
        raise patch_options_invalid(required("fieldManager", "is required for apply patch"))
    product = user_agent.split("/", 1)[0]
    return "".join(c for c in product if c.isprintable())[:128]


def patch_options_invalid(cause: Cause) -> FieldsInvalid:
    err = FieldsInvalid(Resource("meta.k8s.io", "patchoptions", "PatchOptions"), "", [cause])
    err.args = (f'PatchOptions.meta.k8s.io "" is invalid: {cause.text()}',)
    return err


# -- field sets of objects -------------------------------------------------------------------


def ignored(path: Path, s: Strategy, subresource: str) -> bool:
    """Fields no manager owns through this endpoint."""
    if path[:1] in (("f:apiVersion",), ("f:kind",), ("f:metadata",)) and len(path) == 1:
        return True
    if path[:1] == ("f:metadata",) and len(path) > 1 and path[1][2:] in SERVER_OWNED:
        return True
    if subresource == "status":
        return path[:1] != ("f:status",)
    return s.has_status and path[:1] == ("f:status",)


def nodes(s: Strategy, obj: Obj | None, subresource: str, skip_metadata: bool = False) -> dict[Path, Node]:
    """The fields of ``obj`` a manager can own through this endpoint; ``skip_metadata``: all but metadata's
    (the caller found them unchanged)."""
    if obj is None:
        return {}
    t = type_for(s.api_version, s.kind)
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if t is None or t.kind != "struct" or t.atomic or not isinstance(meta, dict) or not meta:
        return {p: n for p, n in fieldpath.walk(obj, t).items() if not ignored(p, s, subresource)}
    # The same as walking everything and dropping what ignored() names, without walking what it drops:
    # every write of every object passes here.
    out: dict[Path, Node] = {}
    if subresource == "status":
        if "status" in obj:
            fieldpath.walk_fields({"status": obj["status"]}, t, (), out)
        return out
    mt = t.field("metadata")
    if mt is not None and (mt.kind != "struct" or mt.atomic):
        return {p: n for p, n in fieldpath.walk(obj, t).items() if not ignored(p, s, subresource)}
    if not skip_metadata:
        fieldpath.walk_fields(meta, mt, ("f:metadata",), out, SERVER_OWNED)
    skip = ("apiVersion", "kind", "metadata", "status") if s.has_status else ("apiVersion", "kind", "metadata")
    rest = {k: v for k, v in obj.items() if k not in skip or (k in ("apiVersion", "kind") and isinstance(v, (dict, list)))}
    fieldpath.walk_fields(rest, t, (), out)
    for k in ("f:apiVersion", "f:kind"):
        out.pop((k,), None)
    return out


def compare(old: dict[Path, Node], new: dict[Path, Node]) -> tuple[FieldSet, FieldSet]:
    """(added or modified, removed) between two walked objects."""
    changed = {p for p, n in new.items()
               if p not in old or (n.leaf and (not old[p].leaf or old[p].value != n.value))}
    removed = {p for p in old if p not in new}
    return changed, removed


def reconcile(entries: list[Entry], me: Entry, changed: FieldSet, removed: FieldSet, force: bool) -> None:
    """Conflicts with other managers over ``changed`` (raise, or take the fields when forced), drop ``removed``."""
    conflicts = [(e, e.fields & changed) for e in entries if e.ident != me.ident and e.fields & changed]
    if conflicts and not force:
        raise conflict_error([(e, p) for e, ps in conflicts for p in sorted(ps)])
    for e, ps in conflicts:
        e.fields -= ps
    for e in entries:
        e.fields -= removed


def conflict_error(conflicts: list[tuple[Entry, Path]]) -> ApplyConflict:
    causes = [Cause("FieldManagerConflict", fieldpath.path_string(p), f"conflict with {e.describe()}")
              for e, p in conflicts]
    if len(conflicts) == 1:
        e, p = conflicts[0]
        return ApplyConflict(f"Apply failed with 1 conflict: conflict with {e.describe()}: "
                             f"{fieldpath.path_string(p)}", causes)
    by_manager: dict[str, list[Path]] = {}
    for e, p in conflicts:
        by_manager.setdefault(e.describe(), []).append(p)
    lines = []
    for name in sorted(by_manager):
        lines.append(f"conflicts with {name}:")
        lines.extend(f"- {fieldpath.path_string(p)}" for p in by_manager[name])
    return ApplyConflict(f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines), causes)


def find(entries: list[Entry], me: Entry) -> Entry:
    for e in entries:
        if e.ident == me.ident:
            return e
    entries.append(me)
    return me


def base_entries(old: Obj | None, new: Obj) -> list[Entry]:
    """The managers to start from: those the new object carries (a client may edit them), else the live ones."""
    old_raw = (old or {}).get("metadata", {}).get("managedFields")
    new_raw = new.get("metadata", {}).get("managedFields")
    if new_raw and new_raw != old_raw:
        try:
            return decode_entries(new_raw)
        except ValueError:
            pass
    try:
        return decode_entries(old_raw)
    except ValueError:
        return []


def store_entries(obj: Obj, entries: list[Entry]) -> None:
    encoded = encode_entries(entries)
    meta = obj.setdefault("metadata", {})
    if encoded:
        meta["managedFields"] = encoded
    else:
        meta.pop("managedFields", None)


def without_managed(obj: Obj | None) -> Obj | None:
    if obj is None:
        return None
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        return dict(obj, metadata={k: v for k, v in meta.items() if k != "managedFields"})
    return obj


def created_fields(s: Strategy, new: Obj) -> dict[str, Any] | None:
    """The ``fieldsV1`` of the one manager of a new object (what :func:`tracker` computes for a create), or
    None when the object is not the plain case this shortcut covers (the general walk then does it)."""
    t = type_for(s.api_version, s.kind)
    meta = new.get("metadata")
    if t is None or t.kind != "struct" or t.atomic or not isinstance(meta, dict) or meta.get("managedFields"):
        return None
    mt = t.field("metadata")
    if mt is None or mt.kind != "struct" or mt.atomic:
        return None
    out: dict[str, Any] = {}
    owned_meta = {k: v for k, v in meta.items() if k not in SERVER_OWNED}
    if owned_meta:
        # metadata, spec and status exist before any create (Go's zero values): theirs are the fields below
        out["f:metadata"] = {k: v for k, v in fieldpath.member_trie(owned_meta, mt).items() if k != "."}
    for k, v in new.items():
        if k in ("apiVersion", "kind"):
            if isinstance(v, (dict, list)):
                return None
            continue
        if k == "metadata" or (k == "status" and s.has_status):
            continue
        node = fieldpath.member_trie(v, t.field(k)) if isinstance(v, (dict, list)) else {}
        if k in ("spec", "status") and node:
            node = {el: sub for el, sub in node.items() if el != "."}
        out["f:" + k] = node
    return dict(sorted(out.items()))


def _differing(old: Obj, new: Obj) -> tuple[Obj, Obj]:
    """Both objects without the fields they share unchanged, at the top level and one below it (in spec,
    in status): those add nothing to what changed or went, and an update (a Lease renewal, a status write)
    usually touches a few fields of one of spec, status or metadata. ``metadata`` stays, for :func:`nodes`
    (:func:`_same_metadata` says whether to walk it)."""
    same = {k for k, v in old.items() if k != "metadata" and k in new and new[k] == v}
    old = {k: v for k, v in old.items() if k not in same}
    new = {k: v for k, v in new.items() if k not in same}
    for k, v in old.items():
        w = new.get(k)
        if k != "metadata" and isinstance(v, dict) and isinstance(w, dict):
            old[k], new[k] = _without_shared(v, w)
    return old, new


def _without_shared(a: dict[str, Any], b: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``a`` and ``b`` without the keys they hold with equal values, but never emptied where they were not:
    an empty map walks as a leaf, a filled one as a container, and that difference would read as a change."""
    same = [k for k, v in a.items() if k in b and b[k] == v]
    if not same:
        return a, b
    drop = set(same[1:] if len(same) in (len(a), len(b)) else same)
    return {k: v for k, v in a.items() if k not in drop}, {k: v for k, v in b.items() if k not in drop}


def _same_metadata(old: Obj | None, new: Obj) -> bool:
    """Whether the two metadata agree on every field a manager can own (the server's own, resourceVersion
    and the like, may differ): then walking them adds nothing to what changed or went."""
    if old is None:
        return False
    a, b = old.get("metadata"), new.get("metadata")
    if not isinstance(a, dict) or not isinstance(b, dict) or not a or not b:
        return False
    if a == b:
        return True
    return all(a.get(k, _ABSENT) == b.get(k, _ABSENT) for k in a.keys() | b.keys() if k not in SERVER_OWNED)


def tracker(s: Strategy, manager: str, subresource: str = "") -> Track:
    """The bookkeeping of an ordinary write (operation Update) by ``manager``: storage calls it last."""

    def track(old: Obj | None, new: Obj) -> None:
        if old is None and not subresource:
            trie = created_fields(s, new)
            if trie is not None:  # a create that owns everything it wrote, computed in one pass
                meta = new["metadata"]
                if trie:
                    meta["managedFields"] = [{"manager": manager, "operation": UPDATE, "apiVersion": s.api_version,
                                              "time": now_rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": trie}]
                else:
                    meta.pop("managedFields", None)
                return
        entries = base_entries(old, new)
        old_fields, new_fields = without_managed(old), without_managed(new)
        same_meta = False
        if old_fields is not None and new_fields is not None:
            old_fields, new_fields = _differing(old_fields, new_fields)
            same_meta = _same_metadata(old_fields, new_fields)
        before = nodes(s, old_fields, subresource, same_meta)
        if old is None:  # Go's zero-valued structs: the top-level objects exist before any create
            before = {("f:" + k,): Node({}, False, False) for k in ("metadata", "spec", "status")}
        changed, removed = compare(before, nodes(s, new_fields, subresource, same_meta))
        me = Entry(manager, UPDATE, s.api_version, subresource=subresource)
        reconcile(entries, me, changed, removed, force=True)
        if changed:
            mine = find(entries, me)
            mine.fields = (mine.fields | changed) - removed
            mine.time = now_rfc3339()
        store_entries(new, entries)

    return track
