"""From a pod's container spec to the engine's RunOptions: the kubelet's container config generation.

Kubernetes' rules, in one place:
- ``command`` replaces the image's ENTRYPOINT (and then its CMD is dropped), ``args`` replaces CMD;
  ``$(VAR)`` in both is expanded against the container's environment by the caller.
- Resources: a CPU limit becomes a CFS quota over a 100 ms period, a CPU request becomes
  ``cpu.shares`` (1024 per core, minimum 2; BestEffort gets 2), a memory limit becomes the memory
  limit with no swap beyond it. The QoS class follows Kubernetes' definition.
- ``securityContext``: the container's fields override the pod's; ``allowPrivilegeEscalation: false``
  sets no_new_privs; ``runAsNonRoot`` is checked against the user that would run (numeric only,
  as the kubelet does).
- All containers of a pod join the sandbox's network, IPC and UTS namespaces and share its /etc/hosts.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kubelite.agent.sandbox import Sandbox
from kubelite.api.quantity import milli_value, value
from kubelite.containers.specgen import RunOptions
from kubelite.errors import Invalid


class ContainerConfigError(Invalid):
    """The container cannot be configured (CreateContainerConfigError in its waiting state)."""


def container_hash(container: dict[str, Any]) -> str:
    """A digest of the spec fields whose change means "restart the container" (image, command...)."""
    keep = {k: container.get(k) for k in ("image", "command", "args", "env", "envFrom", "workingDir",
                                          "ports", "volumeMounts", "securityContext", "resources")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def _resources(c: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    r = c.get("resources") or {}
    limits = dict(r.get("limits") or {})
    requests = dict(r.get("requests") or {})
    for k, v in limits.items():  # a limit without a request requests the limit (API defaulting)
        requests.setdefault(k, v)
    return requests, limits


def qos_class(pod: dict[str, Any]) -> str:
    spec = pod.get("spec") or {}
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    any_set = False
    guaranteed = True
    for c in containers:
        requests, limits = _resources(c)
        if any(k in ("cpu", "memory") for k in [*requests, *limits]):
            any_set = True
        for k in ("cpu", "memory"):
            if k not in limits or k not in requests:
                guaranteed = False
            elif (milli_value(limits[k]) != milli_value(requests[k])):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def security_context(pod: dict[str, Any], c: dict[str, Any]) -> dict[str, Any]:
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    sc = {k: pod_sc[k] for k in ("runAsUser", "runAsGroup", "runAsNonRoot") if k in pod_sc}
    sc.update(c.get("securityContext") or {})
    return sc


def run_options(pod: dict[str, Any], c: dict[str, Any], *, env: list[tuple[str, str]], command: list[str] | None,
                args: list[str] | None, mounts: list[dict[str, Any]], sandbox: Sandbox, labels: dict[str, str],
                name: str, image_user: str, cgroups_path: str, hostname: str) -> RunOptions:
    sc = security_context(pod, c)
    user = _user(sc, image_user)
    requests, limits = _resources(c)
    qos = qos_class(pod)
    cpus = None
    if "cpu" in limits:
        cpus = max(milli_value(limits["cpu"]) / 1000, 0.01)
    shares = 2
    if "cpu" in requests:
        shares = max(2, milli_value(requests["cpu"]) * 1024 // 1000)
    memory = str(value(limits["memory"])) if "memory" in limits else None
    caps = sc.get("capabilities") or {}
    opts = RunOptions(
        image=c["image"],
        command=list(args) if args is not None else [],
        entrypoint_argv=list(command) if command else None,
        name=name,
        hostname=hostname,
        env=[f"{k}={v}" for k, v in env],
        memory=memory,
        cpus=cpus,
        cpu_shares=shares,
        workdir=c.get("workingDir") or None,
        user=user,
        interactive=bool(c.get("stdin")),
        stdin_once=bool(c.get("stdin")) and bool(c.get("stdinOnce")),
        tty=bool(c.get("tty")),
        detach=True,
        read_only=bool(sc.get("readOnlyRootFilesystem")),
        privileged=bool(sc.get("privileged")),
        cap_add=list(caps.get("add") or []),
        cap_drop=list(caps.get("drop") or []),
        labels=labels,
        namespaces=_namespaces(pod, sandbox),
        mounts=mounts,
        cgroups_path=cgroups_path,
        no_new_privileges=sc.get("allowPrivilegeEscalation") is False,
        oom_score_adj=1000 if qos == "BestEffort" else None,
        hosts_file=sandbox.hosts_file,
        hostname_file=sandbox.hostname_file,
    )
    if args is None and command:
        opts.command = []
    if memory is not None and int(memory) < 6 * 1024 * 1024:
        raise ContainerConfigError(f"memory limit {limits['memory']} is below the minimum of 6Mi")
    return opts


def _namespaces(pod: dict[str, Any], sandbox: Sandbox) -> dict[str, str]:
    """The sandbox's namespaces, or the host's where the pod asks for them (hostNetwork, hostIPC, hostPID).

    "The host's" is the agent's own: the runtime opens these paths in a child still in the agent's
    namespaces, so ``/proc/self`` is right even when the agent itself runs in a container."""
    spec = pod.get("spec") or {}
    out = sandbox.namespaces()
    if spec.get("hostNetwork"):  # the node's network and, as the kubelet does, its host name
        out["network"] = "/proc/self/ns/net"
        out["uts"] = "/proc/self/ns/uts"
    if spec.get("hostIPC"):
        out["ipc"] = "/proc/self/ns/ipc"
    if spec.get("hostPID"):
        out["pid"] = "/proc/self/ns/pid"
    return out


def _user(sc: dict[str, Any], image_user: str) -> str | None:
    uid = sc.get("runAsUser")
    gid = sc.get("runAsGroup")
    if sc.get("runAsNonRoot"):
        if uid is None:
            name = image_user.split(":", 1)[0]
            if not name or name == "0" or name == "root":
                raise ContainerConfigError("container has runAsNonRoot and image will run as root")
            if not name.isdigit():
                raise ContainerConfigError(f"container has runAsNonRoot and image has non-numeric user ({name}), "
                                           f"cannot verify user is non-root")
        elif int(uid) == 0:
            raise ContainerConfigError("container's runAsUser breaks non-root policy")
    if uid is None and gid is None:
        return None
    base = str(uid) if uid is not None else (image_user.split(":", 1)[0] or "0")
    return f"{base}:{gid}" if gid is not None else base
