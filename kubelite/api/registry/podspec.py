"""Defaulting and validation of a PodSpec, shared by Pod and every workload's pod template.

The defaults are Kubernetes' v1 defaults (``SetDefaults_PodSpec``,
``SetDefaults_Container``), so an object read back looks as it would from a
real cluster and ``kubectl apply``'s three-way diffs behave the same.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import Cause, invalid_value, not_supported, required
from kubelite.api.meta import is_dns1123_label

Obj = dict[str, Any]

RESTART_POLICIES = ["Always", "Never", "OnFailure"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]


def _pull_policy(image: str) -> str:
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if "@" not in image and tag in ("", "latest") else "IfNotPresent"


def default_container(c: Obj) -> None:
    if isinstance(c.get("image"), str) and "imagePullPolicy" not in c:
        c["imagePullPolicy"] = _pull_policy(c["image"])
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
    for e in c.get("env") or []:
        ref = e.get("valueFrom", {}).get("fieldRef") if isinstance(e, dict) else None
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")


def default_pod_spec(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            if isinstance(c, dict):
                default_container(c)
    for v in spec.get("volumes") or []:
        if not isinstance(v, dict):
            continue
        for src in ("configMap", "secret"):
            if isinstance(v.get(src), dict):
                v[src].setdefault("defaultMode", 420)
        if "emptyDir" not in v and len(v) == 1 and "name" in v:
            v["emptyDir"] = {}


def validate_containers(containers: object, path: str, need_one: bool) -> list[Cause]:
    if containers is None or containers == []:
        return [required(path)] if need_one else []
    if not isinstance(containers, list):
        return [invalid_value(path, containers, "must be a list of containers")]
    out: list[Cause] = []
    seen: set[str] = set()
    for i, c in enumerate(containers):
        p = f"{path}[{i}]"
        if not isinstance(c, dict):
            out.append(invalid_value(p, c, "must be an object"))
            continue
        name = c.get("name")
        if not name:
            out.append(required(f"{p}.name"))
        elif not isinstance(name, str):
            out.append(invalid_value(f"{p}.name", name, "must be a string"))
        else:
            out.extend(invalid_value(f"{p}.name", name, m) for m in is_dns1123_label(name))
            if name in seen:
                out.append(Cause("FieldValueDuplicate", f"{p}.name", f'Duplicate value: "{name}"'))
            seen.add(name)
        image = c.get("image")
        if not image or not isinstance(image, str) or not image.strip():
            out.append(required(f"{p}.image"))
        pol = c.get("imagePullPolicy")
        if pol is not None and pol not in PULL_POLICIES:
            out.append(not_supported(f"{p}.imagePullPolicy", pol, PULL_POLICIES))
        for j, port in enumerate(c.get("ports") or []):
            pp = f"{p}.ports[{j}]"
            if not isinstance(port, dict):
                out.append(invalid_value(pp, port, "must be an object"))
                continue
            cp = port.get("containerPort")
            if not isinstance(cp, int) or not 0 < cp < 65536:
                out.append(invalid_value(f"{pp}.containerPort", cp, "must be between 1 and 65535, inclusive"))
            if port.get("protocol") not in PROTOCOLS:
                out.append(not_supported(f"{pp}.protocol", port.get("protocol"), PROTOCOLS))
    return out


def validate_pod_spec(spec: object, path: str) -> list[Cause]:
    if not isinstance(spec, dict):
        return [required(path)] if spec is None else [invalid_value(path, spec, "must be an object")]
    out = validate_containers(spec.get("containers"), f"{path}.containers", True)
    out += validate_containers(spec.get("initContainers"), f"{path}.initContainers", False)
    rp = spec.get("restartPolicy")
    if rp not in RESTART_POLICIES:
        out.append(not_supported(f"{path}.restartPolicy", rp, RESTART_POLICIES))
    names: set[str] = set()
    for i, v in enumerate(spec.get("volumes") or []):
        name = v.get("name") if isinstance(v, dict) else None
        if not name:
            out.append(required(f"{path}.volumes[{i}].name"))
        elif name in names:
            out.append(Cause("FieldValueDuplicate", f"{path}.volumes[{i}].name", f'Duplicate value: "{name}"'))
        else:
            names.add(name)
    return out
