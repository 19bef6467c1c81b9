"""Probe workers on real containers: thresholds, initial verdicts, startup gating, stopping.

Each probe command appends to a file in the shared directory or tests for
one, so the test decides when checks start failing and counts what the
worker did from the events it reported; nothing depends on how long a period
really lasted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelite.agent.probes.execsync import exec_in_container
from kubelite.agent.probes.prober import FAILURE, SUCCESS, UNKNOWN
from kubelite.agent.probes.worker import ContainerProbes, ProbeWorker, kill_grace, with_defaults
from tests.agent.probes_rig import PodRig, eventually, pod_rig, run
from tests.conftest import Env

pytestmark = pytest.mark.root


@pytest.fixture
def rig(kenv: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PodRig]:
    yield from pod_rig(kenv, tmp_path, monkeypatch)


class Recorder:
    def __init__(self) -> None:
        self.results: list[tuple[str, str, str, str]] = []
        self.events: list[tuple[str, str, str]] = []

    def on_result(self, kind: str, name: str, result: str, message: str) -> None:
        self.results.append((kind, name, result, message))

    async def on_event(self, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))

    def count(self, prefix: str) -> int:
        return sum(1 for _, _, m in self.events if m.startswith(prefix))


def probe(command: str, **fields: Any) -> dict[str, Any]:
    return {"exec": {"command": ["sh", "-c", command]}, "periodSeconds": 1, **fields}


def test_defaults_are_the_apis() -> None:
    p = with_defaults({"exec": {"command": ["true"]}, "timeoutSeconds": 0})
    assert {k: p[k] for k in ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "successThreshold",
                              "failureThreshold")} == {"initialDelaySeconds": 0, "periodSeconds": 10,
                                                       "timeoutSeconds": 1, "successThreshold": 1,
                                                       "failureThreshold": 3}
    c = {"livenessProbe": {"terminationGracePeriodSeconds": 3}, "readinessProbe": {"terminationGracePeriodSeconds": 3}}
    assert (kill_grace(c, "liveness", 30), kill_grace(c, "readiness", 30), kill_grace(c, "startup", 30)) == (3, 30, 30)
    with pytest.raises(ValueError, match="unknown probe kind"):
        ProbeWorker("health", "c", {}, None, lambda *a: None)  # type: ignore[arg-type]


def test_liveness_fails_after_failure_threshold_consecutive_failures(rig: PodRig) -> None:
    (rig.share / "healthy").touch()
    rec = rig.run("c", "sleep 100000")
    rec_ = Recorder()

    async def scenario() -> None:
        w = ProbeWorker("liveness", "c", probe("echo check >> /share/n; test -f /share/healthy || "
                                               "{ echo sick; exit 1; }", failureThreshold=3),
                        rig.target(rec), rec_.on_result, on_event=rec_.on_event).start()
        assert w.result == SUCCESS  # liveness starts alive
        await eventually("two passing checks", lambda: _lines(rig.share / "n") >= 2)
        (rig.share / "healthy").unlink()
        await eventually("the worker to end", lambda: not w.running)
        assert rec_.results == [("liveness", "c", FAILURE, "sick\n")]
        # Exactly failureThreshold failures, each an event in the kubelet's words, and no probing after.
        assert rec_.events == [("Warning", "Unhealthy", "Liveness probe failed: sick")] * 3
    run(scenario())


def test_readiness_starts_false_and_follows_success_and_failure_thresholds(rig: PodRig) -> None:
    (rig.share / "ready").touch()
    rec = rig.run("c", "sleep 100000")
    rec_ = Recorder()
    counts: list[int] = []  # checks made when each verdict came
    failed: list[int] = []  # failure events when each verdict came

    def on_result(kind: str, name: str, result: str, message: str) -> None:
        rec_.on_result(kind, name, result, message)
        counts.append(_lines(rig.share / "n"))
        failed.append(rec_.count("Readiness probe failed"))

    async def scenario() -> None:
        w = ProbeWorker("readiness", "c", probe("echo check >> /share/n; test -f /share/ready",
                                                successThreshold=2, failureThreshold=2),
                        rig.target(rec), on_result, on_event=rec_.on_event).start()
        assert w.result == FAILURE  # not ready until proven
        await eventually("ready", lambda: w.result == SUCCESS)
        assert counts == [2]  # the second consecutive success made it ready
        (rig.share / "ready").unlink()
        await eventually("not ready", lambda: w.result == FAILURE)
        assert failed == [0, 2]  # the second consecutive failure made it unready
        (rig.share / "ready").touch()
        await eventually("ready again", lambda: w.result == SUCCESS)
        assert [r[2] for r in rec_.results] == [SUCCESS, FAILURE, SUCCESS]
        assert w.running  # readiness never stops on its own
        w.stop()
        await w.wait()
        assert not w.running
    run(scenario())


def test_startup_probe_gates_liveness_and_readiness(rig: PodRig) -> None:
    rec = rig.run("c", "sleep 100000")
    rec_ = Recorder()
    container = {"name": "c",
                 "startupProbe": probe("test -f /share/started", failureThreshold=1000),
                 "livenessProbe": probe("echo live >> /share/live")}

    async def scenario() -> None:
        ps = ContainerProbes(container, rig.target(rec), rec_.on_result, on_event=rec_.on_event).start()
        assert ps.workers["startup"].result == UNKNOWN
        await eventually("startup failures", lambda: rec_.count("Startup probe failed") >= 2)
        assert not (rig.share / "live").exists()
        assert not ps.is_started() and not ps.is_ready()
        (rig.share / "started").touch()
        await eventually("started", ps.is_started)
        await eventually("liveness to run", lambda: (rig.share / "live").exists())
        assert ps.is_ready()  # no readiness probe: ready once started
        assert rec_.results[0] == ("startup", "c", SUCCESS, "")
        assert not ps.workers["startup"].running  # a started container is never probed for startup again
        ps.stop()
        await ps.wait()
    run(scenario())


def test_a_failed_startup_probe_is_final(rig: PodRig) -> None:
    rec = rig.run("c", "sleep 100000")
    rec_ = Recorder()

    async def scenario() -> None:
        w = ProbeWorker("startup", "c", probe("exit 1", failureThreshold=2), rig.target(rec), rec_.on_result,
                        on_event=rec_.on_event).start()
        await w.wait()
        assert rec_.results == [("startup", "c", FAILURE, "")]
        assert rec_.count("Startup probe failed") == 2
    run(scenario())


def test_initial_delay_counts_from_the_container_start(rig: PodRig) -> None:
    rec = rig.run("c", "sleep 100000")
    rec_ = Recorder()

    async def scenario() -> None:
        import asyncio
        import time

        later = ProbeWorker("readiness", "c", probe("true", initialDelaySeconds=3600), rig.target(rec),
                            rec_.on_result).start()
        # A container that started an hour ago has waited its delay already.
        now = ProbeWorker("readiness", "now", probe("true", initialDelaySeconds=3600), rig.target(rec),
                          rec_.on_result, started_at=time.monotonic() - 3600).start()
        await eventually("the started container's check", lambda: now.result == SUCCESS)
        await asyncio.sleep(0.5)
        assert later.checks == 0 and later.result == FAILURE
        for w in (later, now):
            w.stop()
            await w.wait()
    run(scenario())


def test_stopping_a_worker_kills_its_running_check(rig: PodRig) -> None:
    rec = rig.run("c", "sleep 100000")

    async def ps() -> str:
        return (await exec_in_container(rig.engine, rec, ["ps", "-o", "args"], 10)).output.decode()

    async def scenario() -> None:
        w = ProbeWorker("liveness", "c", probe("sleep 7777", timeoutSeconds=3600), rig.target(rec),
                        lambda *a: None).start()
        seen: list[str] = []

        async def poll() -> None:
            seen.append(await ps())
        while not seen or "sleep 7777" not in seen[-1]:
            await poll()
            await eventually("nothing", lambda: True)
            assert len(seen) < 300, "the check never started"
        w.stop()
        await w.wait()
        assert "sleep 7777" not in await ps()
    run(scenario())


def _lines(p: Path) -> int:
    try:
        return len(p.read_text().splitlines())
    except FileNotFoundError:
        return 0
