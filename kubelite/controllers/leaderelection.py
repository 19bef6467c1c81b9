"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's ``leaderelection`` package does it.

Two control planes on one datastore must never both act. Each candidate loops:

- **acquire**: read the Lease; take it when it does not exist (create), is free
  (empty ``holderIdentity``) or has not been renewed for ``leaseDurationSeconds``,
  by writing itself as holder with the resourceVersion it read. The write is a
  compare-and-swap, so of two candidates racing for an expired Lease exactly one
  wins; the other gets a Conflict and tries again later. ``leaseTransitions``
  counts changes of holder, ``acquireTime`` is when the current holder took it;
- **renew**: every ``retry_period`` the leader writes ``renewTime``; when no renewal
  succeeded for ``renew_deadline`` it stops leading (``on_stopped``) before the
  others may consider the Lease expired (``renew_deadline < lease_duration``).

Expiry is judged on the local monotonic clock from the moment this candidate
*observed* the Lease change, never by comparing the holder's ``renewTime`` with
local time, so clock skew between machines cannot make two leaders (client-go's
``observedTime``). A leader that stops cleanly releases the Lease (holder emptied)
so a successor need not wait for expiry.

:func:`run_leader_elected` is the entry point; :func:`start_leader_elected` wraps
"start something, get its stop function" (as ``start_controllers``) so it runs
only while leading.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubelite.api.client import APIClient, resource_path
from kubelite.errors import AlreadyExists, Conflict, KubeliteError, NotFound

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Callback = Callable[[], Awaitable[None]]
Stop = Callable[[], Awaitable[None]]


@dataclass
class LeaderElectionConfig:
    """client-go's defaults (kube-controller-manager's ``--leader-elect-*`` flags)."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    namespace: str = "kube-system"
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("leader election needs 0 < retry_period < renew_deadline < lease_duration")


def micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(self, client: APIClient, name: str, identity: str,
                 config: LeaderElectionConfig | None = None) -> None:
        if not identity:
            raise ValueError("leader election requires a non-empty identity")
        self.client = client
        self.name = name
        self.identity = identity
        self.config = config or LeaderElectionConfig()
        self.path = resource_path("coordination.k8s.io/v1", "leases", self.config.namespace, name)
        self.leading = False
        self._observed: Obj | None = None  # the Lease spec last seen
        self._observed_at = 0.0  # monotonic time it was first seen as it is

    # --- one attempt ---------------------------------------------------------------------------------

    async def try_acquire_or_renew(self) -> bool:
        """One compare-and-swap attempt to hold the Lease; True when we hold it afterwards."""
        now = micro_time()
        duration = max(1, round(self.config.lease_duration))
        try:
            lease = await self.client.get(self.path)
        except NotFound:
            spec: Obj = {"holderIdentity": self.identity, "leaseDurationSeconds": duration, "acquireTime": now,
                    "renewTime": now, "leaseTransitions": 0}
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.config.namespace}, "spec": spec}
            try:
                await self.client.create(self.path.rsplit("/", 1)[0], body)
            except (AlreadyExists, Conflict):
                return False
            self._observe(spec)
            return True
        spec = dict(lease.get("spec") or {})
        self._observe(spec)
        holder = spec.get("holderIdentity") or ""
        ours = holder == self.identity
        held_for = float(spec.get("leaseDurationSeconds") or duration)
        if holder and not ours and time.monotonic() < self._observed_at + held_for:
            return False  # someone else holds it and it has not expired by our clock
        new: Obj = {**spec, "holderIdentity": self.identity, "leaseDurationSeconds": duration, "renewTime": now}
        if not ours:
            new["acquireTime"] = now
            new["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        try:
            await self.client.replace(self.path, {**lease, "spec": new})  # carries the resourceVersion we read
        except (Conflict, NotFound):
            return False
        self._observe(new)
        return True

    def _observe(self, spec: Obj) -> None:
        if spec != self._observed:
            self._observed, self._observed_at = spec, time.monotonic()

    async def release(self) -> None:
        """Give the Lease up (only if we still hold it), so a successor need not wait for it to expire.

        Bounded by the renew deadline: it runs while stopping, and a server that stopped answering must not
        hold the stop up (the Lease then expires, as it would after a crash)."""
        with contextlib.suppress(KubeliteError, TimeoutError):
            async with asyncio.timeout(self.config.renew_deadline):
                await self._release()

    async def _release(self) -> None:
        lease = await self.client.get(self.path)
        spec = lease.get("spec") or {}
        if spec.get("holderIdentity") != self.identity:
            return
        now = micro_time()
        await self.client.replace(self.path, {**lease, "spec": {
            **spec, "holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": now, "acquireTime": now}})

    # --- the loops -----------------------------------------------------------------------------------

    async def _attempt(self) -> bool:
        try:
            return await self.try_acquire_or_renew()
        except KubeliteError as e:  # the server is unreachable: we cannot know, so we do not hold it
            log.debug("leader election %s: %s", self.name, e)
            return False

    async def acquire(self) -> None:
        while not await self._attempt():
            await asyncio.sleep(self.config.retry_period)
        log.info("%s became leader of %s", self.identity, self.name)

    async def renew_until_lost(self) -> None:
        last_ok = time.monotonic()
        while True:
            await asyncio.sleep(self.config.retry_period)
            if await self._attempt():
                last_ok = time.monotonic()
            elif time.monotonic() - last_ok >= self.config.renew_deadline or self._held_by_other():
                log.warning("%s lost leadership of %s", self.identity, self.name)
                return

    def _held_by_other(self) -> bool:
        holder = (self._observed or {}).get("holderIdentity")
        return bool(holder) and holder != self.identity

    async def run(self, on_started: Callback, on_stopped: Callback) -> None:
        """Acquire, call ``on_started``, renew until leadership is lost, call ``on_stopped``; returns then.

        Cancelling it while leading calls ``on_stopped`` and releases the Lease (``release_on_cancel``).
        """
        await self.acquire()
        self.leading = True
        cancelled = False
        try:
            await on_started()
            await self.renew_until_lost()
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            self.leading = False
            try:
                await on_stopped()
            finally:
                if cancelled and self.config.release_on_cancel:
                    await asyncio.shield(self.release())


async def run_leader_elected(client: APIClient, name: str, identity: str, on_started: Callback,
                             on_stopped: Callback, config: LeaderElectionConfig | None = None) -> None:
    """Lead whenever possible until cancelled: after losing the Lease, stand again as a candidate."""
    elector = LeaderElector(client, name, identity, config)
    while True:
        try:
            await elector.run(on_started, on_stopped)
        except Exception as e:
            # ``on_started`` failed (say the API was briefly unreachable): we still hold the Lease, so the next
            # round takes it back at once and tries again
            log.warning("leader election %s: starting failed: %s", name, e, exc_info=not isinstance(e, KubeliteError))
            await asyncio.sleep(elector.config.retry_period)


async def start_leader_elected(client: APIClient, name: str, identity: str, start: Callable[[], Awaitable[Stop]],
                               config: LeaderElectionConfig | None = None) -> Stop:
    """Run ``start()`` (which returns its ``stop``) only while holding the Lease ``name``; returns a stop of
    the whole arrangement (stops what runs, releases the Lease)."""
    running: list[Stop] = []

    async def started() -> None:
        running.append(await start())

    async def stopped() -> None:
        while running:
            await running.pop()()

    task = asyncio.create_task(run_leader_elected(client, name, identity, started, stopped, config),
                               name=f"leader election {name}")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return stop
