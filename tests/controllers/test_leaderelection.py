"""Leader election: two candidates on one real API server; one leads, the other takes over when it stops renewing.

The Lease timings are shortened (4 s lease, 3 s renew deadline); nothing
asserts how fast a takeover happens, only who leads and what the Lease records.
While waiting, every poll also checks the safety property: never two leaders.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from kubelite.api.client import resource_path
from kubelite.controllers.leaderelection import LeaderElectionConfig, LeaderElector, start_leader_elected
from tests.controllers.conftest import ControllerHarness

CONTROLLERS: set[str] = set()
Obj = dict[str, Any]


class Candidate:
    def __init__(self, h: ControllerHarness, lease: str, identity: str, release: bool = True) -> None:
        self.h = h
        self.config = LeaderElectionConfig(lease_duration=4, renew_deadline=3, retry_period=0.25,
                                           namespace="kube-system", release_on_cancel=release)
        self.elector = LeaderElector(h.client, lease, identity, self.config)
        self.log: list[str] = []
        self.task: asyncio.Task[None] | None = None

    async def _started(self) -> None:
        self.log.append("started")

    async def _stopped(self) -> None:
        self.log.append("stopped")

    def start(self) -> None:
        async def go() -> asyncio.Task[None]:
            return asyncio.create_task(self.elector.run(self._started, self._stopped))
        self.task = self.h.run(go())

    def crash(self) -> None:
        """Stop renewing without a word: the lease stays with us until it expires."""
        async def stop() -> None:
            assert self.task is not None
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.h.run(stop())


def lease(h: ControllerHarness, name: str) -> Obj:
    spec: Obj = h.run(h.client.get(resource_path("coordination.k8s.io/v1", "leases", "kube-system", name)))["spec"]
    return spec


def one_leader(cands: list[Candidate]) -> Candidate | None:
    leaders = [c for c in cands if c.elector.leading]
    assert len(leaders) <= 1, "two leaders at once"
    return leaders[0] if leaders else None


def test_one_leads_and_the_other_takes_over(controllers: ControllerHarness) -> None:
    h = controllers
    a, b = Candidate(h, "test-lease-1", "alpha", release=False), Candidate(h, "test-lease-1", "beta", release=False)
    a.start()
    h.wait_for(lambda: a.elector.leading, "alpha leading")
    b.start()
    first = lease(h, "test-lease-1")
    assert first["holderIdentity"] == "alpha" and first["leaseDurationSeconds"] == 4
    assert first["leaseTransitions"] == 0 and first["acquireTime"] and first["renewTime"]
    # alpha keeps renewing while beta waits: renewTime moves on, the holder does not change
    h.wait_for(lambda: one_leader([a, b]) is a and lease(h, "test-lease-1")["renewTime"] != first["renewTime"],
               "a renewal by alpha")
    assert not b.elector.leading and b.log == []
    a.crash()
    assert a.log == ["started", "stopped"]
    h.wait_for(lambda: one_leader([a, b]) is b, "beta taking over the expired lease")
    taken = lease(h, "test-lease-1")
    assert taken["holderIdentity"] == "beta" and taken["leaseTransitions"] == 1
    assert taken["acquireTime"] != first["acquireTime"]
    assert b.log == ["started"]
    b.crash()


def test_release_on_stop_and_kubectl_shows_the_holder(controllers: ControllerHarness) -> None:
    h = controllers
    a, b = Candidate(h, "test-lease-2", "alpha"), Candidate(h, "test-lease-2", "beta")
    a.start()
    h.wait_for(lambda: a.elector.leading, "alpha leading")
    assert "alpha" in h.ok("-n", "kube-system", "get", "lease", "test-lease-2")
    b.start()
    a.crash()  # with release_on_cancel the holder is emptied at once
    h.wait_for(lambda: one_leader([a, b]) is b, "beta leading")
    assert lease(h, "test-lease-2")["holderIdentity"] == "beta"
    b.crash()
    assert lease(h, "test-lease-2")["holderIdentity"] == ""


def test_start_leader_elected_runs_only_while_leading(controllers: ControllerHarness) -> None:
    h = controllers
    config = LeaderElectionConfig(lease_duration=4, renew_deadline=3, retry_period=0.25)
    running: list[str] = []

    def starter(who: str) -> Any:
        async def start() -> Any:
            running.append(who)

            async def stop() -> None:
                running.remove(who)
            return stop
        return start

    stop_a = h.run(start_leader_elected(h.client, "test-lease-3", "alpha", starter("alpha"), config))
    h.wait_for(lambda: running == ["alpha"], "alpha's work started")
    stop_b = h.run(start_leader_elected(h.client, "test-lease-3", "beta", starter("beta"), config))
    assert lease(h, "test-lease-3")["holderIdentity"] == "alpha"
    h.run(stop_a())
    h.wait_for(lambda: running == ["beta"], "beta's work started after alpha stopped")
    h.run(stop_b())
    assert running == []


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="retry_period < renew_deadline < lease_duration"):
        LeaderElectionConfig(lease_duration=5, renew_deadline=10)


def test_a_failed_start_is_retried_while_holding_the_lease(controllers: ControllerHarness) -> None:
    h = controllers
    config = LeaderElectionConfig(lease_duration=4, renew_deadline=3, retry_period=0.25)
    attempts: list[int] = []

    async def start() -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            from kubelite.errors import Unavailable
            raise Unavailable("the API went away for a moment")

        async def stop() -> None:
            return None
        return stop

    stop = h.run(start_leader_elected(h.client, "test-lease-4", "alpha", start, config))
    h.wait_for(lambda: len(attempts) == 2, "a second start")
    assert lease(h, "test-lease-4")["leaseTransitions"] == 0  # never let go of it meanwhile
    h.run(stop())
