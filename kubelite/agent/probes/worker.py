"""Periodic probing of one container: the kubelet's prober worker, per (pod, container, kind).

A worker belongs to one running instance of a container. It waits until
``initialDelaySeconds`` after the container started, then checks every
``periodSeconds`` (at least 1 s, each check bounded by ``timeoutSeconds``) and
changes its verdict only after ``successThreshold`` consecutive successes or
``failureThreshold`` consecutive failures. Verdicts start where the kubelet
starts them: readiness ``failure`` (not ready until proven), liveness
``success``, startup ``unknown`` (not started). A liveness or readiness worker
does not probe until its ``started`` gate (the startup probe's verdict) opens.

``on_result(kind, container_name, result, message)`` is called when the
verdict changes, and the next check waits for it (so a caller reading state
from it sees the state that caused it). A failed liveness or startup verdict
and a successful startup verdict end the worker: the first restarts the
container (a new instance gets new workers), the second is final, as in the
kubelet, which puts such a worker "on hold" until the container ID changes.
An ``unknown`` check (the probe could not be made) changes nothing and does
not break a run of results.

Every failed check is also an event, as the kubelet records it:
``on_event(type, reason, message)`` with ``Unhealthy`` and "Liveness probe
failed: ..." (or "... probe errored: ..."), ``ProbeWarning`` for a success
with a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kubelite.agent.probes.prober import FAILURE, SUCCESS, UNKNOWN, ProbeResult, ProbeTarget, run_probe

log = logging.getLogger(__name__)

KINDS = ("liveness", "readiness", "startup")
FIELDS = {"liveness": "livenessProbe", "readiness": "readinessProbe", "startup": "startupProbe"}
DEFAULTS = {"initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1,
            "failureThreshold": 3}
INITIAL = {"liveness": SUCCESS, "readiness": FAILURE, "startup": UNKNOWN}

ResultFn = Callable[[str, str, str, str], "Awaitable[None] | None"]
EventFn = Callable[[str, str, str], "Awaitable[None] | None"]


def with_defaults(probe: dict[str, Any]) -> dict[str, Any]:
    """The probe with the API's defaults for what it leaves out (or sets to 0 where 0 is not allowed)."""
    out = {**DEFAULTS, **{k: v for k, v in probe.items() if v is not None}}
    for key in ("periodSeconds", "timeoutSeconds", "successThreshold", "failureThreshold"):
        try:
            value = int(out[key])
        except (TypeError, ValueError):
            value = DEFAULTS[key]
        out[key] = value if value >= 1 else DEFAULTS[key]
    try:
        out["initialDelaySeconds"] = max(int(out["initialDelaySeconds"]), 0)
    except (TypeError, ValueError):
        out["initialDelaySeconds"] = 0
    return out


def kill_grace(container: dict[str, Any], kind: str, pod_grace: float) -> float:
    """The grace period for killing a container whose ``kind`` probe failed: the probe's own
    ``terminationGracePeriodSeconds`` (liveness and startup probes, Kubernetes 1.25+), else the pod's."""
    probe = container.get(FIELDS.get(kind, "")) or {}
    value = probe.get("terminationGracePeriodSeconds") if kind in ("liveness", "startup") else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return pod_grace


async def _call(fn: Callable[..., Any] | None, *args: Any) -> None:
    if fn is None:
        return
    r = fn(*args)
    if inspect.isawaitable(r):
        await r


class ProbeWorker:
    def __init__(self, kind: str, container_name: str, probe: dict[str, Any], target: ProbeTarget,
                 on_result: ResultFn, *, on_event: EventFn | None = None,
                 started: Callable[[], bool] | None = None, started_at: float | None = None) -> None:
        """``started_at``: when the container started, in ``time.monotonic()`` terms (default: now)."""
        if kind not in KINDS:
            raise ValueError(f"unknown probe kind {kind!r}: one of {', '.join(KINDS)}")
        self.kind = kind
        self.container_name = container_name
        self.probe = with_defaults(probe)
        self.target = target
        self.on_result = on_result
        self.on_event = on_event
        self.started = started
        self.started_at = time.monotonic() if started_at is None else started_at
        self.result = INITIAL[kind]
        self.message = ""
        self.checks = 0  # checks made (unknown ones included): for callers' curiosity and tests
        self._last: str | None = None
        self._run = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> ProbeWorker:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name=f"{self.kind} probe of {self.container_name}")
        return self

    def stop(self) -> None:
        """Stop probing (a check in progress is abandoned: an exec'd command is killed)."""
        if self._task is not None:
            self._task.cancel()

    async def wait(self) -> None:
        """Until the worker has ended (stopped, or its verdict was final)."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _loop(self) -> None:
        period = float(self.probe["periodSeconds"])
        delay = self.started_at + float(self.probe["initialDelaySeconds"]) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            try:
                go_on = await self.check_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a bug in a callback must not end probing silently
                log.exception("%s probe of %s", self.kind, self.container_name)
                go_on = True
            if not go_on:
                return
            # A ticker, as the kubelet's: checks start on period boundaries; one that overran skips a tick.
            await asyncio.sleep(period - (loop.time() - began) % period)

    async def check_once(self) -> bool:
        """One round of the kubelet's doProbe; False when this worker is done."""
        if self.kind == "startup" and self.result == SUCCESS:
            return False
        if self.kind != "startup" and self.started is not None and not self.started():
            return True  # liveness and readiness wait for the startup probe
        r = await run_probe(self.probe, self.target)
        self.checks += 1
        await self._record_event(r)
        if r.result == UNKNOWN:
            return True
        if r.result == self._last:
            self._run += 1
        else:
            self._last, self._run = r.result, 1
        threshold = self.probe["failureThreshold"] if r.result == FAILURE else self.probe["successThreshold"]
        if self._run < int(threshold):
            return True
        if r.result != self.result:
            self.result, self.message = r.result, r.message
            await _call(self.on_result, self.kind, self.container_name, r.result, r.message)
        if self.kind in ("liveness", "startup") and r.result == FAILURE:
            return False  # the container is restarted; its next instance gets a new worker
        return not (self.kind == "startup" and r.result == SUCCESS)

    async def _record_event(self, r: ProbeResult) -> None:
        label = self.kind.capitalize()
        if r.result == FAILURE:
            await _call(self.on_event, "Warning", "Unhealthy", f"{label} probe failed: {r.message}".rstrip())
        elif r.result == UNKNOWN:
            await _call(self.on_event, "Warning", "Unhealthy", f"{label} probe errored: {r.message}".rstrip())
        elif r.warning:
            await _call(self.on_event, "Warning", "ProbeWarning", f"{label} probe warning: {r.message}".rstrip())


class ContainerProbes:
    """The workers of one container instance, wired together: the startup verdict gates the others."""

    def __init__(self, container: dict[str, Any], target: ProbeTarget, on_result: ResultFn, *,
                 on_event: EventFn | None = None, started_at: float | None = None) -> None:
        self.name = str(container.get("name", ""))
        self.workers: dict[str, ProbeWorker] = {}
        for kind in ("startup", "liveness", "readiness"):
            probe = container.get(FIELDS[kind])
            if probe:
                self.workers[kind] = ProbeWorker(kind, self.name, probe, target, on_result, on_event=on_event,
                                                 started=self.is_started, started_at=started_at)

    def is_started(self) -> bool:
        w = self.workers.get("startup")
        return w is None or w.result == SUCCESS

    def is_ready(self) -> bool:
        """Started and ready (a container without a readiness probe is ready once started)."""
        w = self.workers.get("readiness")
        return self.is_started() and (w is None or w.result == SUCCESS)

    def start(self) -> ContainerProbes:
        for w in self.workers.values():
            w.start()
        return self

    def stop(self) -> None:
        for w in self.workers.values():
            w.stop()

    async def wait(self) -> None:
        for w in self.workers.values():
            await w.wait()
