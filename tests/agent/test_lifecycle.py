"""postStart and preStop hooks and graceful stop, on real busybox containers in a pod's network namespace.

Containers trap signals and write what they receive to a shared file, hooks
write there too, so the order the user's program sees (preStop, then the stop
signal, then nothing: SIGKILL) is read back from the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubelite.agent.probes.lifecycle import post_start, run_hook, stop_container
from kubelite.agent.probes.prober import ProbeTarget
from tests.agent.probes_rig import PodRig, http_server, pod_rig, run
from tests.conftest import Env

pytestmark = pytest.mark.root

# Each script says when its trap is set (/share/up): a signal before that would be lost (an init process
# ignores signals it has no handler for), and the tests wait for it.
GRACEFUL = "trap 'echo term >> /share/log; exit 0' TERM; touch /share/up; while true; do sleep 0.1; done"
STUBBORN = "trap 'echo term >> /share/log' TERM; touch /share/up; while true; do sleep 0.1; done"


@pytest.fixture
def rig(kenv: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PodRig]:
    for r in pod_rig(kenv, tmp_path, monkeypatch):
        r.wait_for = r.share / "up"  # every container here says when it is ready for signals
        yield r


def log(rig: PodRig) -> str:
    p = rig.share / "log"
    return p.read_text() if p.exists() else ""


def exec_hook(script: str) -> dict[str, object]:
    return {"exec": {"command": ["sh", "-c", script]}}


def test_pre_stop_runs_before_the_stop_signal(rig: PodRig) -> None:
    rec = rig.run("c", GRACEFUL)
    # No target given: exec through the engine, network through the container's own namespace.
    r = run(stop_container(rig.engine, rec, 10, exec_hook("echo prestop >> /share/log")))
    assert log(rig) == "prestop\nterm\n"
    assert (r.exit_code, r.signal, r.killed) == (0, "SIGTERM", False)
    assert r.pre_stop is not None and r.pre_stop.ok
    assert rig.status(rec) == "exited"
    again = run(stop_container(rig.engine, rec, 10, None))
    assert again.already_exited and again.exit_code == 0


def test_sigkill_after_the_grace_period(rig: PodRig) -> None:
    rec = rig.run("c", STUBBORN)
    r = run(stop_container(rig.engine, rec, 1, None))
    assert (r.exit_code, r.killed) == (137, True)
    assert log(rig) == "term\n"  # it was asked first


def test_a_pre_stop_hook_that_outlives_the_grace_period_is_cut_short(rig: PodRig) -> None:
    rec = rig.run("c", GRACEFUL)
    r = run(stop_container(rig.engine, rec, 1, exec_hook("echo prestop >> /share/log; sleep 7777")))
    assert r.pre_stop is not None and r.pre_stop.timed_out and not r.pre_stop.ok
    # The stop signal still came, with its minimum 2 s of its own, and the program used it.
    assert (r.exit_code, r.killed) == (0, False)
    assert log(rig) == "prestop\nterm\n"


def test_a_failed_pre_stop_hook_is_an_event_and_the_container_still_stops(rig: PodRig) -> None:
    rec = rig.run("c", GRACEFUL)
    events: list[tuple[str, str, str]] = []
    r = run(stop_container(rig.engine, rec, 10, exec_hook("echo nope; exit 3"), pod="web_default",
                           on_event=lambda *e: events.append(e)))
    assert r.exit_code == 0 and log(rig) == "term\n"
    assert len(events) == 1 and events[0][:2] == ("Warning", "FailedPreStopHook")
    assert events[0][2] == ('Exec lifecycle hook ([sh -c echo nope; exit 3]) for Container "c" in Pod '
                            '"web_default" failed - error: command \'sh -c echo nope; exit 3\' exited with 3: , '
                            'message: "nope\\n"')


def test_the_stop_signal_can_be_the_images(rig: PodRig) -> None:
    rec = rig.run("c", "trap 'echo usr1 >> /share/log; exit 0' USR1; touch /share/up; while true; do sleep 0.1; done")
    r = run(stop_container(rig.engine, rec, 10, None, stop_signal="SIGUSR1"))
    assert (r.exit_code, r.signal, r.killed) == (0, "SIGUSR1", False)
    assert log(rig) == "usr1\n"


def test_http_pre_stop_goes_to_the_pod_and_ignores_the_status(rig: PodRig) -> None:
    rec = rig.run("c", GRACEFUL)
    seen: list[tuple[str, dict[str, str]]] = []

    async def scenario() -> None:
        async with http_server(rig.netns, 9092, lambda p, h: (500, {}, b"no"), seen):
            r = await stop_container(rig.engine, rec, 10, {"httpGet": {"path": "/drain", "port": 9092}})
            assert r.pre_stop is not None and r.pre_stop.ok
            assert r.exit_code == 0
    run(scenario())
    assert [p for p, _ in seen] == ["/drain"]


def test_post_start_success_and_handlers(rig: PodRig) -> None:
    rec = rig.run("c", GRACEFUL)
    t = rig.target(rec)
    spec = {"name": "c", "lifecycle": {"postStart": exec_hook("echo started >> /share/log")}}
    assert run(post_start(rig.engine, rec, spec, t, 10)).ok
    assert log(rig) == "started\n"
    assert run(post_start(rig.engine, rec, {"name": "c"}, t, 10)).ok  # no hook: nothing to do
    assert run(run_hook("PostStart", {"sleep": {"seconds": 1}}, t)).ok
    r = run(run_hook("PostStart", {"httpGet": {"path": "/x", "port": 9093}}, t, pod="p"))
    assert not r.ok
    assert r.message == ('HTTP lifecycle hook (/x) for Container "c" in Pod "p" failed - error: '
                         'Get "http://127.0.0.1:9093/x": dial tcp 127.0.0.1:9093: connect: connection refused')
    r = run(run_hook("PostStart", {"tcpSocket": {"port": 80}}, t))
    assert not r.ok and "not supported" in r.message
    assert not run(run_hook("PostStart", {}, ProbeTarget(rig.netns))).ok
    assert "must be a number" in run(run_hook("PostStart", {"sleep": {"seconds": "1s"}}, t)).message
    assert "no command" in run(run_hook("PostStart", {"exec": {"command": "true"}}, t)).message
    assert rig.status(rec) == "running"


def test_a_failed_post_start_hook_kills_the_container(rig: PodRig) -> None:
    rec = rig.run("c", GRACEFUL)
    events: list[tuple[str, str, str]] = []
    spec = {"name": "c", "lifecycle": {"postStart": exec_hook("echo bad; exit 7"),
                                       "preStop": exec_hook("echo prestop >> /share/log")}}
    r = run(post_start(rig.engine, rec, spec, rig.target(rec), 10, pod="p", on_event=lambda *e: events.append(e)))
    assert (r.ok, r.reason) == (False, "FailedPostStartHook")
    assert "exited with 7" in r.message and '"bad\\n"' in r.message
    assert events == [("Warning", "FailedPostStartHook", r.message)]
    assert r.stop is not None and r.stop.exit_code == 0
    assert log(rig) == "prestop\nterm\n"  # killed the way the kubelet kills: preStop, then TERM
    assert rig.status(rec) == "exited"
