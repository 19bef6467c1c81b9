"""The scheduler process: informers in, scheduling cycles, bindings and status out.

One asyncio task pops pods from the :class:`SchedulingQueue` and runs the
synchronous cycle of the pod's profile against the :class:`Cache`. When a node
is chosen the pod is assumed there at once and the binding runs in its own
task (kube-scheduler's binding cycle), so the next cycle starts without waiting
for the API server and already sees the room taken. When nothing fits, the pod
gets ``PodScheduled=False`` (reason Unschedulable, the counted reasons as
message) and a FailedScheduling event; when preemption found victims they are
deleted and the pod's ``status.nominatedNodeName`` is set.

Informers: all nodes, and all pods that have not finished
(``status.phase!=Succeeded,status.phase!=Failed``). One pod watch instead of a
pending one plus an assigned one: every pod event is decoded once, and a pod
moving from pending to bound is one MODIFIED event seen in order. Pods whose
``spec.schedulerName`` names no profile of this scheduler are left alone, and
pods with scheduling gates only get ``PodScheduled=False`` (SchedulingGated)
until the gates are gone.

The loop yields to the event loop after each cycle, so watches and binding
responses are processed between cycles. Leader election is a gate: ``gate``
(any awaitable factory, e.g. an elector's ``wait_leader``) is awaited before
the first cycle; ``kubelite server`` instead starts the whole scheduler only
while it holds the ``kube-scheduler`` Lease. Events (Scheduled,
FailedScheduling, Preempted) wait while many bindings are in flight, so a burst
binds first.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kubelite.api.client import APIClient, resource_path
from kubelite.api.informer import Informer
from kubelite.api.meta import now_rfc3339
from kubelite.errors import KubeliteError, NotFound
from kubelite.scheduler import queue as q
from kubelite.scheduler.cache import Cache
from kubelite.scheduler.events import Recorder
from kubelite.scheduler.framework import Code, CycleState, PostFilterResult
from kubelite.scheduler.nodeinfo import PodInfo, pod_key
from kubelite.scheduler.profile import Profile, ScheduleResult
from kubelite.scheduler.registry import DEFAULT_PROFILE, ProfileConfig, build_profile

log = logging.getLogger(__name__)
Obj = dict[str, Any]
BUSY_BINDINGS = 16
GATED_MESSAGE = "Scheduling is blocked due to non-empty scheduling gates"
TERMINAL = ("Succeeded", "Failed")


def _node_relevant(node: Obj) -> tuple[Any, ...]:
    """What of a node matters to scheduling (not heartbeats): a change here is a NodeUpdate event."""
    spec, status = node.get("spec") or {}, node.get("status") or {}
    ready = next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    return ((node.get("metadata") or {}).get("labels"), spec.get("taints"), spec.get("unschedulable"),
            status.get("allocatable"), status.get("capacity"), ready,
            [tuple(i.get("names") or ()) for i in status.get("images") or []])


def _pod_relevant(pod: Obj) -> tuple[Any, ...]:
    md = pod.get("metadata") or {}
    return pod.get("spec"), md.get("labels"), md.get("annotations"), md.get("deletionTimestamp")


class Scheduler:
    def __init__(self, client: APIClient, profiles: list[ProfileConfig] | None = None, *,
                 gate: Callable[[], Awaitable[Any]] | None = None, record_scheduled_events: bool = True) -> None:
        self.client = client
        self.cache = Cache()
        self.profiles: dict[str, Profile] = {}
        for cfg in profiles or [DEFAULT_PROFILE]:
            self.profiles[cfg.scheduler_name] = build_profile(cfg, self.cache, client)
        first = next(iter(self.profiles.values()))
        self.queue = q.SchedulingQueue(first.queue_sort.sort_key)
        self.binding = 0  # bindings in flight
        self.assumed = 0  # pods a cycle placed (bound or not yet)
        self.recorder = Recorder(client, first.scheduler_name, busy=lambda: self.binding > BUSY_BINDINGS)
        self.gate = gate
        self.record_scheduled_events = record_scheduled_events
        self.nodes = Informer(client, "/api/v1/nodes", name="scheduler nodes")
        self.pods = Informer(client, "/api/v1/pods", name="scheduler pods",
                             field_selector="status.phase!=Succeeded,status.phase!=Failed")
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.scheduled = 0

    # --- life ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.nodes.add_handler(self._on_node)
        self.pods.add_handler(self._on_pod)
        await self.nodes.start()
        await self.pods.start()
        self._task = asyncio.create_task(self._run(), name="scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for t in list(self._background):
            t.cancel()
        for t in list(self._background):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.recorder.stop()
        await self.pods.stop()
        await self.nodes.stop()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        t = asyncio.ensure_future(coro)
        self._background.add(t)
        t.add_done_callback(self._background.discard)

    # --- informer handlers ------------------------------------------------------------------------------

    def _on_node(self, etype: str, node: Obj, old: Obj | None) -> None:
        if etype == "DELETED":
            self.cache.remove_node(str((node.get("metadata") or {}).get("name", "")))
            return
        if etype == "MODIFIED" and old is not None and _node_relevant(old) == _node_relevant(node):
            self.cache.touch_node(node)  # a heartbeat: keep the newest object, recompute nothing
            return
        self.cache.set_node(node)
        self.queue.move(q.NODE_ADD if etype == "ADDED" else q.NODE_UPDATE)

    def _on_pod(self, etype: str, pod: Obj, old: Obj | None) -> None:
        key = pod_key(pod)
        spec, md = pod.get("spec") or {}, pod.get("metadata") or {}
        if etype == "DELETED" or (pod.get("status") or {}).get("phase") in TERMINAL:
            self.queue.delete(key)
            self.cache.clear_nomination(key)
            if self.cache.remove_pod(key) is not None:
                self.queue.move(q.POD_DELETE)
            return
        node = spec.get("nodeName")
        if node:
            self.queue.delete(key)
            if self.cache.confirm(pod, node):
                self.queue.move(q.POD_ADD)
                return
            known = key in self.cache.pod_node and not self.cache.is_assumed(key)
            self.cache.add_pod(PodInfo.of(pod), node)
            if not known:
                self.queue.move(q.POD_ADD)
            return
        if spec.get("schedulerName", "default-scheduler") not in self.profiles:
            return
        if md.get("deletionTimestamp"):
            self.queue.delete(key)
            return
        if etype == "MODIFIED" and old is not None and _pod_relevant(old) == _pod_relevant(pod):
            qp = self.queue.pods.get(key)
            if qp is not None:
                qp.pi.pod = pod  # a status write (ours): keep the newest object, do not retry because of it
            return
        if spec.get("schedulingGates"):
            # gated: not ours to try until every gate is removed (a spec change, which brings it back here)
            self.queue.delete(key)
            self._spawn(self._set_condition(pod, "SchedulingGated", GATED_MESSAGE))
            return
        self.queue.add(PodInfo.of(pod))

    # --- the loop ---------------------------------------------------------------------------------------

    async def _run(self) -> None:
        if self.gate is not None:
            await self.gate()
        while True:
            qp = await self.queue.pop()
            try:
                self.schedule_one(qp)
            except Exception:
                log.exception("scheduling %s failed", qp.pi.key)
                self.queue.requeue(qp, set(), error=True)
            await asyncio.sleep(0)

    def schedule_one(self, qp: q.QueuedPod) -> None:
        key = qp.pi.key
        cur = self.pods.get(key)
        md = (cur or {}).get("metadata") or {}
        if cur is None or (cur.get("spec") or {}).get("nodeName") or md.get("deletionTimestamp") or \
                md.get("uid") != (qp.pi.pod.get("metadata") or {}).get("uid"):
            self.queue.done(key)
            return
        pi = qp.pi if cur is qp.pi.pod else PodInfo.of(cur)
        profile = self.profiles[(cur.get("spec") or {}).get("schedulerName", "default-scheduler")]
        res = profile.schedule(pi)
        if not res.node:
            self._unschedulable(profile, qp, pi, res)
            return
        assert res.state is not None
        assumed = dict(cur, spec={**(cur.get("spec") or {}), "nodeName": res.node})
        api = dataclasses.replace(pi, pod=assumed)
        self.cache.assume(api, res.node)
        for i, r in enumerate(profile.reserve):
            st = r.reserve(res.state, api, res.node)
            if st is not None:
                for undo in reversed(profile.reserve[: i + 1]):
                    undo.unreserve(res.state, api, res.node)
                self.cache.forget(key)
                self.queue.requeue(qp, {st.plugin}, error=True)
                return
        self.queue.done(key)
        self.assumed += 1
        self._spawn(self._bind(profile, res.state, qp, api, res.node))

    async def _bind(self, profile: Profile, state: CycleState, qp: q.QueuedPod, pi: PodInfo, node: str) -> None:
        err = None
        self.binding += 1
        try:
            for b in profile.bind:  # the first binder that answers decides
                err = await b.bind(state, pi, node)
                if err is None or err.code != Code.SKIP:
                    break
        finally:
            self.binding -= 1
        if err is None:
            self.scheduled += 1
            if self.record_scheduled_events:
                md = pi.pod.get("metadata") or {}
                self.recorder.event(pi.pod, "Normal", "Scheduled",
                                    f"Successfully assigned {md.get('namespace')}/{md.get('name')} to {node}")
            return
        log.debug("binding %s to %s failed: %s", pi.key, node, err.message)
        for r in reversed(profile.reserve):
            r.unreserve(state, pi, node)
        self.cache.forget(pi.key)
        cur = self.pods.get(pi.key)
        if cur is not None and not (cur.get("spec") or {}).get("nodeName"):
            self.queue.pods[pi.key] = qp
            self.queue.requeue(qp, set(), error=True)
            self.recorder.event(cur, "Warning", "FailedScheduling", f"Binding rejected: {err.message}")

    # --- failure ----------------------------------------------------------------------------------------

    def _unschedulable(self, profile: Profile, qp: q.QueuedPod, pi: PodInfo, res: ScheduleResult) -> None:
        pod = pi.pod
        nominated = ""
        if res.post_filter is not None and res.post_filter.nominated_node:
            nominated = res.post_filter.nominated_node
            self.cache.nominate(pi, nominated)
            self._spawn(self._preempt(pod, res.post_filter))
        self.queue.requeue(qp, res.failed_plugins or {"*"})
        self.recorder.event(pod, "Warning", "FailedScheduling", res.message)
        self._spawn(self._set_condition(pod, "Unschedulable", res.message, nominated))

    async def _set_condition(self, pod: Obj, reason: str, message: str, nominated: str = "") -> None:
        """``PodScheduled=False`` with ``reason`` and ``message`` (and the nominated node), unless already so."""
        md, status = pod.get("metadata") or {}, pod.get("status") or {}
        conds = list(status.get("conditions") or [])
        old = next((c for c in conds if c.get("type") == "PodScheduled"), None)
        if old and old.get("status") == "False" and old.get("reason") == reason and \
                old.get("message") == message and (not nominated or status.get("nominatedNodeName") == nominated):
            return
        cond = {"type": "PodScheduled", "status": "False", "reason": reason, "message": message,
                "lastProbeTime": None,
                "lastTransitionTime": old.get("lastTransitionTime") if old and old.get("status") == "False"
                else now_rfc3339()}
        patch: Obj = {"status": {"conditions": [c for c in conds if c.get("type") != "PodScheduled"] + [cond]}}
        if nominated:
            patch["status"]["nominatedNodeName"] = nominated
        # preconditions: never touch a same-named successor, nor a pod that changed since (it may be bound by
        # now, and this write would turn its PodScheduled back to False); the next attempt writes again
        patch["metadata"] = {"uid": md.get("uid"), "resourceVersion": md.get("resourceVersion")}
        with contextlib.suppress(KubeliteError):
            await self.client.patch(resource_path("v1", "pods", md.get("namespace"), md.get("name"), "status"),
                                    patch)

    async def _preempt(self, pod: Obj, result: PostFilterResult) -> None:
        uid = (pod.get("metadata") or {}).get("uid")
        for victim in result.victims:
            vmd = victim.pod.get("metadata") or {}
            self.recorder.event(victim.pod, "Normal", "Preempted",
                                f"Preempted by pod {uid} on node {result.nominated_node}")
            try:
                await self.client.delete(resource_path("v1", "pods", vmd.get("namespace"), vmd.get("name")),
                                         {"apiVersion": "v1", "kind": "DeleteOptions",
                                          "preconditions": {"uid": vmd.get("uid")}})
            except NotFound:
                pass
            except KubeliteError as e:
                log.warning("preemption of %s failed: %s", victim.key, e)


async def start_scheduler(client: APIClient, *, name: str = "default-scheduler",
                          gate: Callable[[], Awaitable[Any]] | None = None,
                          profiles: list[ProfileConfig] | None = None) -> Callable[[], Awaitable[None]]:
    """Start a scheduler on ``client``; returns the coroutine function that stops it.

    ``name`` is the scheduler name of the default profile (pods choose it by
    ``spec.schedulerName``); ``gate`` is awaited before the first cycle
    (leader election); ``profiles`` replaces the default profile altogether.
    """
    cfgs = profiles or [dataclasses.replace(DEFAULT_PROFILE, scheduler_name=name)]
    s = Scheduler(client, cfgs, gate=gate)
    await s.start()
    return s.stop
