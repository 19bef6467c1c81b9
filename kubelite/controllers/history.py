"""Revisions of a DaemonSet's or StatefulSet's pod template, without stored ControllerRevisions.

Kubernetes keeps each template a DaemonSet or StatefulSet has had in an
``apps/v1`` ControllerRevision and labels every pod with the revision it was made
from (``controller-revision-hash``). kubelite's API does not serve
ControllerRevisions (yet), so revisions here are *names*, not stored objects:

- a revision is the hash of the pod template (FNV-32a over its canonical JSON,
  encoded with apimachinery's ``SafeEncodeString`` alphabet so it reads like
  Kubernetes' hashes), plus the set's ``collisionCount`` as Kubernetes mixes it in;
  the same template always gives the same hash, across controller restarts;
- a StatefulSet's revision is named ``<set>-<hash>`` (its pods' label and
  ``status.currentRevision``/``updateRevision``), a DaemonSet's pods carry the
  bare hash, as in Kubernetes;
- :class:`TemplateHistory` remembers, in memory, the templates a controller has
  seen under each revision, so a StatefulSet can recreate a pod below its
  ``partition`` from the *current* (older) template. After a controller restart
  an older template is unknown until seen again; the caller then falls back to
  the newest template, the one thing a stored ControllerRevision would have kept.

What is lost without stored revisions: ``kubectl rollout history/undo`` for these
kinds (they read ControllerRevisions).
"""

from __future__ import annotations

import collections
import copy
import json
from typing import Any

Obj = dict[str, Any]

REVISION_LABEL = "controller-revision-hash"
# apimachinery's util/rand alphanums: no vowels (no words) and no look-alike characters.
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """apimachinery's ``rand.SafeEncodeString``: each byte mapped into an alphabet that spells no words."""
    return "".join(_ALPHANUMS[b % len(_ALPHANUMS)] for b in s.encode())


def template_hash(template: Obj, collision_count: int = 0) -> str:
    """The revision hash of a pod template: stable for equal templates whatever their key order."""
    raw = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    h = _fnv32a(raw)
    if collision_count:
        h = _fnv32a(raw + collision_count.to_bytes(4, "little"))
    return safe_encode(str(h))


def revision_of(pod: Obj) -> str:
    return str(((pod.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL, ""))


class TemplateHistory:
    """Templates seen per owner (by uid) and revision, newest last, at most ``limit`` per owner."""

    def __init__(self, limit: int = 10) -> None:
        self.limit = limit
        self._by_owner: dict[str, collections.OrderedDict[str, Obj]] = {}

    def remember(self, owner_uid: str, revision: str, template: Obj, limit: int | None = None) -> None:
        revs = self._by_owner.setdefault(owner_uid, collections.OrderedDict())
        if revision in revs:
            revs.move_to_end(revision)
            return
        revs[revision] = copy.deepcopy(template)
        # +1: the newest revision is not part of Kubernetes' revisionHistoryLimit.
        while len(revs) > max(limit if limit is not None else self.limit, 0) + 1:
            revs.popitem(last=False)

    def template(self, owner_uid: str, revision: str) -> Obj | None:
        revs = self._by_owner.get(owner_uid)
        t = revs.get(revision) if revs is not None else None
        return copy.deepcopy(t) if t is not None else None

    def forget(self, owner_uid: str) -> None:
        self._by_owner.pop(owner_uid, None)
