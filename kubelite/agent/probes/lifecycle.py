"""Lifecycle hooks (postStart, preStop) and graceful container stop, with the kubelet's semantics.

A hook handler is ``exec``, ``httpGet`` or ``sleep`` (``tcpSocket`` is
accepted by the API for compatibility only and fails at run time, as in
Kubernetes). Unlike a probe, an HTTP hook fails only when no response comes:
the status code is not looked at. An exec hook has no timeout of its own; the
caller bounds it (the grace period for preStop).

postStart runs right after the container started; when it fails the kubelet
records ``FailedPostStartHook`` and kills the container (preStop included),
so :func:`post_start` does the same and says so. :func:`stop_container` is
the kubelet's killContainer: preStop within the grace period (a hook that
outlives it is abandoned and its process killed), then the image's
STOPSIGNAL (SIGTERM by default), then whatever is left of the grace period but
never less than 2 s, then SIGKILL. Waiting for the exit polls the engine's
view of the container from the event loop, so no thread is held.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal as signals
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kubelite.agent.probes.prober import (
    DialError,
    HTTPGetError,
    ProbeTarget,
    command_of,
    container_target,
    go_quote,
    handler_of,
    headers_of,
    http_get,
    request_url,
    resolve_port,
)
from kubelite.containers.engine import ContainerRecord, Engine
from kubelite.errors import KubeliteError
from kubelite.runtime.container import parse_signal

MIN_GRACE = 2.0  # the kubelet's minimumGracePeriodInSeconds: SIGTERM always gets this long
EventFn = Callable[[str, str, str], "Awaitable[None] | None"]


@dataclass(frozen=True)
class HookResult:
    ok: bool
    message: str = ""
    timed_out: bool = False


@dataclass(frozen=True)
class StopResult:
    exit_code: int | None  # None: still not gone after SIGKILL (should not happen)
    signal: str  # the signal that asked it to stop
    killed: bool  # SIGKILL was needed
    pre_stop: HookResult | None  # None: no preStop ran
    exit: dict[str, Any] | None  # the engine's exit record (exitCode, oomKilled...)
    already_exited: bool = False


async def run_hook(name: str, handler: dict[str, Any], target: ProbeTarget, *, pod: str = "",
                   timeout: float | None = None) -> HookResult:
    """Run one hook handler (``name`` is PostStart or PreStop, for messages). ``timeout``: None for none."""
    container = str(target.container.get("name", ""))
    where = f"for Container {go_quote(container)} in Pod {go_quote(pod)}"
    kind = handler_of(handler)
    try:
        async with asyncio.timeout(timeout):
            if kind == "exec":
                return await _exec_hook(handler["exec"], target, where)
            if kind == "httpGet":
                return await _http_hook(handler["httpGet"], target, where)
            if kind == "sleep":
                seconds = handler["sleep"].get("seconds", 0)
                if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                    return HookResult(False, f"{name} hook {where} failed - error: sleep seconds must be a "
                                             f"number, not {seconds!r}")
                await asyncio.sleep(max(float(seconds), 0))
                return HookResult(True)
    except TimeoutError:
        return HookResult(False, f"{name} hook {where} did not complete in {timeout:g}s", timed_out=True)
    if kind in ("tcpSocket", "grpc"):
        return HookResult(False, f"{name} hook {where} failed - error: {kind} is not supported as a lifecycle "
                                 f"handler")
    return HookResult(False, f"{name} hook {where} failed - error: invalid handler: no exec, httpGet or sleep")


async def _exec_hook(action: dict[str, Any], target: ProbeTarget, where: str) -> HookResult:
    argv = command_of(action)
    shown = "[" + " ".join(argv) + "]"
    if not argv or target.exec is None:
        return HookResult(False, f"Exec lifecycle hook ({shown}) {where} failed - error: "
                                 f"{'no command' if not argv else 'exec is not possible in this container'}")
    try:
        r = await target.exec(argv, None)
    except KubeliteError as e:
        return HookResult(False, f"Exec lifecycle hook ({shown}) {where} failed - error: {e}, message: \"\"")
    if r.exit_code == 0:
        return HookResult(True, r.output.decode(errors="replace"))
    return HookResult(False, f"Exec lifecycle hook ({shown}) {where} failed - error: command "
                             f"'{' '.join(argv)}' exited with {r.exit_code}: , message: "
                             f"{go_quote(r.output.decode(errors='replace'))}")


async def _http_hook(action: dict[str, Any], target: ProbeTarget, where: str) -> HookResult:
    path = str(action.get("path") or "")
    scheme = str(action.get("scheme") or "HTTP").lower()
    try:
        port = resolve_port(action.get("port"), target.container)
    except ValueError as e:
        return HookResult(False, f"HTTP lifecycle hook ({path}) {where} failed - error: {e}")
    url = request_url(action, str(action.get("host") or "127.0.0.1"), port, scheme)
    headers = headers_of(action)
    try:
        resp = await http_get(target.netns, url, headers)
    except (DialError, HTTPGetError) as e:
        return HookResult(False, f"HTTP lifecycle hook ({path}) {where} failed - error: Get {go_quote(url)}: {e}")
    return HookResult(True, f"HTTP {resp.status}")


def stop_signal_of(engine: Engine, record: ContainerRecord) -> str:
    """The image's STOPSIGNAL, else SIGTERM (also when the image is gone or names no valid signal)."""
    try:
        cfg = engine.images.get(record.image_id).config.get("config") or {}
        sig = str(cfg.get("StopSignal") or "SIGTERM")
        parse_signal(sig)
    except Exception:  # noqa: BLE001 - an image removed meanwhile or a bad value: the default signal
        return "SIGTERM"
    return sig


async def wait_exited(engine: Engine, record: ContainerRecord, timeout: float | None) -> dict[str, Any] | None:
    """The exit record once the container has exited; None if it has not within ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    delay = 0.005
    while True:
        v = engine.view(record)
        if v.status == "exited":
            return v.exit or {}
        if v.status == "created" and v.state is None:
            return {}  # never started, or removed meanwhile: nothing left to wait for
        if deadline is not None and loop.time() >= deadline:
            return None
        await asyncio.sleep(delay if deadline is None else min(delay, max(deadline - loop.time(), 0)))
        delay = min(delay * 2, 0.1)


def _signal(engine: Engine, record: ContainerRecord, sig: str | int) -> None:
    with contextlib.suppress(KubeliteError, ProcessLookupError):
        engine.runtime.kill(record.id, parse_signal(sig))


async def stop_container(engine: Engine, record: ContainerRecord, grace_seconds: float,
                         pre_stop: dict[str, Any] | None, *, target: ProbeTarget | None = None, pod: str = "",
                         on_event: EventFn | None = None, stop_signal: str | None = None) -> StopResult:
    """preStop (within the grace period), the stop signal, the rest of the grace period (>= 2 s), SIGKILL.

    ``target`` is where an httpGet preStop connects and how an exec one runs; by default the container's own
    network namespace and the engine. ``on_event(type, reason, message)`` hears FailedPreStopHook."""
    view = engine.view(record)
    if view.status != "running":
        return StopResult(_code(view.exit), "", False, None, view.exit, already_exited=True)
    loop = asyncio.get_running_loop()
    grace = max(float(grace_seconds), 0.0)
    hook: HookResult | None = None
    if pre_stop and grace > 0:
        begin = loop.time()
        if target is None:
            try:
                target = container_target(engine, record)
            except KubeliteError:
                target = None
        if target is not None:
            hook = await run_hook("PreStop", pre_stop, target, pod=pod, timeout=grace)
            if not hook.ok and not hook.timed_out and on_event is not None:
                r = on_event("Warning", "FailedPreStopHook", hook.message)
                if asyncio.iscoroutine(r) or isinstance(r, asyncio.Future):
                    await r
        grace -= loop.time() - begin
    grace = max(grace, MIN_GRACE)
    sig = stop_signal or stop_signal_of(engine, record)
    _signal(engine, record, sig)
    exit_ = await wait_exited(engine, record, grace)
    killed = False
    if exit_ is None:
        killed = True
        _signal(engine, record, signals.SIGKILL)
        exit_ = await wait_exited(engine, record, 30)
    return StopResult(_code(exit_), sig, killed, hook, exit_)


def _code(exit_: dict[str, Any] | None) -> int | None:
    if not exit_ or "exitCode" not in exit_:
        return None
    return int(exit_["exitCode"])


@dataclass(frozen=True)
class PostStartResult:
    ok: bool
    message: str = ""
    reason: str = ""  # FailedPostStartHook when the hook failed and the container was killed
    stop: StopResult | None = None


async def post_start(engine: Engine, record: ContainerRecord, container: dict[str, Any], target: ProbeTarget,
                     grace_seconds: float, *, pod: str = "", on_event: EventFn | None = None) -> PostStartResult:
    """Run the container's postStart hook (if any); on failure record FailedPostStartHook and kill the
    container the way the kubelet does (its preStop, the stop signal, SIGKILL after the grace period)."""
    lifecycle = container.get("lifecycle") or {}
    hook = lifecycle.get("postStart")
    if not hook:
        return PostStartResult(True)
    r = await run_hook("PostStart", hook, target, pod=pod)
    if r.ok:
        return PostStartResult(True, r.message)
    if on_event is not None:
        ev = on_event("Warning", "FailedPostStartHook", r.message)
        if asyncio.iscoroutine(ev) or isinstance(ev, asyncio.Future):
            await ev
    stopped = await stop_container(engine, record, grace_seconds, lifecycle.get("preStop"), target=target,
                                   pod=pod, on_event=on_event)
    return PostStartResult(False, r.message, "FailedPostStartHook", stopped)
