"""A pod's status computed from what runs: the kubelet's generateAPIPodStatus and getPhase.

A pure function of the pod, the containers the runtime has for it and the
worker's own facts (waiting reasons, probe results), so the status is always
derived, never accumulated: an agent restarted at any moment computes the
same status again from the same containers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubelite.agent.containeropts import qos_class
from kubelite.agent.podruntime import ContainerInfo

RUNTIME = "kubelite"


@dataclass
class ContainerFacts:
    """What the worker knows of one container name beyond the runtime's record."""

    latest: ContainerInfo | None = None
    previous: ContainerInfo | None = None
    waiting: tuple[str, str] | None = None  # (reason, message) while no container runs
    ready: bool = False
    started: bool = False  # the startup probe passed (or there is none) while running


@dataclass
class PodFacts:
    containers: dict[str, ContainerFacts] = field(default_factory=dict)
    host_ip: str = ""
    start_time: str = ""
    sandbox_ready: bool = False
    initialized: bool = False
    terminal_phase: str = ""  # Succeeded/Failed once decided; never leaves it


def meta_time(ts: str | None) -> str | None:
    """An RFC 3339 time in whole seconds, as ``metav1.Time`` is written (the runtime records nanoseconds)."""
    if not ts:
        return ts
    dot = ts.find(".")
    return ts if dot < 0 else ts[:dot] + "Z"


def _terminated(info: ContainerInfo) -> dict[str, Any]:
    reason = "OOMKilled" if info.oom_killed else ("Completed" if info.exit_code == 0 else "Error")
    out = {"exitCode": info.exit_code, "reason": reason, "startedAt": meta_time(info.started_at) or None,
           "finishedAt": meta_time(info.finished_at) or None, "containerID": f"{RUNTIME}://{info.id}"}
    return {k: v for k, v in out.items() if v is not None}


def container_status(c: dict[str, Any], f: ContainerFacts, image_id: str) -> dict[str, Any]:
    state: dict[str, Any]
    latest = f.latest
    if latest is not None and latest.running:
        state = {"running": {"startedAt": meta_time(latest.started_at)}}
    elif f.waiting is not None:
        reason, message = f.waiting
        state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
    elif latest is not None and latest.exited:
        state = {"terminated": _terminated(latest)}
    else:
        state = {"waiting": {"reason": "ContainerCreating"}}
    last: dict[str, Any] = {}
    if latest is not None and not latest.exited and f.previous is not None and f.previous.exited:
        last = {"terminated": _terminated(f.previous)}
    elif latest is not None and latest.exited and "terminated" not in state:
        last = {"terminated": _terminated(latest)}
    elif latest is not None and latest.exited and f.previous is not None and f.previous.exited:
        last = {"terminated": _terminated(f.previous)}
    running = latest is not None and latest.running
    out: dict[str, Any] = {
        "name": c["name"], "state": state, "lastState": last,
        "ready": bool(running and f.ready), "restartCount": latest.attempt if latest is not None else 0,
        "image": c.get("image", ""), "imageID": image_id,
        "started": bool(running and f.started),
    }
    if latest is not None:
        out["containerID"] = f"{RUNTIME}://{latest.id}"
    return out


def phase(pod: dict[str, Any], facts: PodFacts) -> str:
    if facts.terminal_phase:
        return facts.terminal_phase
    spec = pod.get("spec") or {}
    policy = spec.get("restartPolicy", "Always")
    if not facts.initialized:
        for c in spec.get("initContainers") or []:
            f = facts.containers.get(c["name"])
            if (c.get("restartPolicy") != "Always" and f is not None and f.latest is not None and f.latest.exited
                    and f.latest.exit_code != 0 and policy == "Never"):
                return "Failed"
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for c in spec.get("containers") or []:
        f = facts.containers.get(c["name"]) or ContainerFacts()
        if f.latest is not None and f.latest.running:
            running += 1
        elif f.latest is not None and f.latest.exited and f.waiting is None:
            stopped += 1
            if f.latest.exit_code == 0:
                succeeded += 1
        elif f.latest is not None and f.latest.exited:  # waiting to restart: it ran before
            running += 1 if policy != "Never" else 0
            stopped += 1 if policy == "Never" else 0
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


def _condition(ctype: str, ok: bool, reason: str = "", message: str = "",
               old: dict[str, dict[str, Any]] | None = None, now: str = "") -> dict[str, Any]:
    status = "True" if ok else "False"
    prev = (old or {}).get(ctype)
    when = prev["lastTransitionTime"] if prev and prev.get("status") == status and prev.get(
        "lastTransitionTime") else now
    out: dict[str, Any] = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": when}
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


def pod_status(pod: dict[str, Any], facts: PodFacts, image_ids: dict[str, str], now: str) -> dict[str, Any]:
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    old_conds = {c["type"]: c for c in old.get("conditions") or []}
    init_specs = spec.get("initContainers") or []
    app_specs = spec.get("containers") or []
    init_statuses = [container_status(c, facts.containers.get(c["name"]) or ContainerFacts(), image_ids.get(
        c["name"], "")) for c in init_specs]
    statuses = [container_status(c, facts.containers.get(c["name"]) or ContainerFacts(), image_ids.get(
        c["name"], "")) for c in app_specs]
    ph = phase(pod, facts)
    not_ready = [s["name"] for s in statuses if not s["ready"]]
    # Sidecars (init containers that keep running) count towards readiness too.
    for c, s in zip(init_specs, init_statuses, strict=True):
        if c.get("restartPolicy") == "Always" and not s["ready"]:
            not_ready.append(s["name"])
    terminal = ph in ("Succeeded", "Failed")
    ready = not not_ready and not terminal
    msg = f"containers with unready status: [{' '.join(not_ready)}]" if not_ready else ""
    pending_init = [s["name"] for c, s in zip(init_specs, init_statuses, strict=True)
                    if c.get("restartPolicy") != "Always" and "terminated" not in s["state"]]
    conds = [
        _condition("PodReadyToStartContainers", facts.sandbox_ready and not terminal, old=old_conds, now=now),
        _condition("Initialized", facts.initialized,
                   "" if facts.initialized else "ContainersNotInitialized",
                   "" if facts.initialized else f"containers with incomplete status: [{' '.join(pending_init)}]",
                   old=old_conds, now=now),
        _condition("Ready", ready, "" if ready else ("PodCompleted" if terminal else "ContainersNotReady"),
                   "" if ready or terminal else msg, old=old_conds, now=now),
        _condition("ContainersReady", ready, "" if ready else ("PodCompleted" if terminal else "ContainersNotReady"),
                   "" if ready or terminal else msg, old=old_conds, now=now),
    ]
    conds.append(old_conds.get("PodScheduled") or _condition("PodScheduled", True, now=now))
    out: dict[str, Any] = {
        "phase": ph,
        "conditions": conds,
        "hostIP": facts.host_ip,
        "hostIPs": [{"ip": facts.host_ip}] if facts.host_ip else [],
        "startTime": facts.start_time or old.get("startTime") or now,
        "containerStatuses": statuses,
        "qosClass": qos_class(pod),
    }
    if init_statuses:
        out["initContainerStatuses"] = init_statuses
    for k in ("podIP", "podIPs", "nominatedNodeName"):
        if k in old:
            out[k] = old[k]
    return out
