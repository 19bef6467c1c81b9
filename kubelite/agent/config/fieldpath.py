"""The downward API's values: pod fields (``fieldRef``) and container resources (``resourceFieldRef``).

Shared by env vars and downwardAPI/projected volumes, which differ only in what
they allow: env adds ``spec.*`` and ``status.*`` fields the node knows, volumes
read ``metadata.*`` only (and whole ``labels``/``annotations`` maps, formatted
as the kubelet does: sorted ``key="value"`` lines with Go's quoting).

Resources follow the kubelet: a value is divided by the divisor and rounded up
(CPU in millicores, the rest in units); a container without a limit reports the
node's allocatable amount, which the caller supplies (``host_allocatable`` reads
this machine's when the agent has nothing better). Quantities are parsed exactly
with ``Fraction`` so ``0.1`` CPU is 100m, never 99.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

_SUFFIX = {
    "": Fraction(1), "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18), "Ki": Fraction(2**10), "Mi": Fraction(2**20),
    "Gi": Fraction(2**30), "Ti": Fraction(2**40), "Pi": Fraction(2**50), "Ei": Fraction(2**60),
}
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))(?:[eE]([+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$")
_QUALIFIED_NAME = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                             r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
RESOURCES = ("cpu", "memory", "ephemeral-storage")


class FieldError(ValueError):
    """A field path or resource the downward API cannot answer; the message is the kubelet's."""


def quantity(q: object) -> Fraction:
    if isinstance(q, bool) or not isinstance(q, str | int | float):
        raise FieldError(f"invalid quantity {q!r}")
    if isinstance(q, int | float):
        return Fraction(str(q))
    m = _QUANTITY.match(q.strip())
    if not m:
        raise FieldError(f"quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {q!r}")
    number = Fraction(m.group(1))
    if m.group(2):
        return number * Fraction(10) ** int(m.group(2))
    return number * _SUFFIX[m.group(3) or ""]


def go_quote(s: str) -> str:
    """Go's ``%q`` for a string, which is how the kubelet writes label and annotation values."""
    out = ['"']
    named = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
             '"': '\\"', "\\": "\\\\"}
    for ch in s:
        if ch in named:
            out.append(named[ch])
        elif ch == " " or ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def format_map(m: Mapping[str, str]) -> str:
    return "".join(f"{k}={go_quote(m[k])}\n" for k in sorted(m))


def split_subscript(path: str) -> tuple[str, str] | None:
    """``metadata.labels['k']`` -> (``metadata.labels``, ``k``); None when not subscripted."""
    if not path.endswith("']"):
        return None
    head, sep, key = path[:-2].partition("['")
    if not sep or not head:
        return None
    return head, key


def object_field(pod: Mapping[str, Any], path: str, api_version: str = "v1") -> str:
    """A ``metadata.*`` field as the downward API reads it (what downwardAPI volumes allow)."""
    if api_version not in ("", "v1"):
        raise FieldError(f"unsupported pod version: {api_version}")
    meta = pod.get("metadata") or {}
    sub = split_subscript(path)
    if sub is not None:
        head, key = sub
        if head not in ("metadata.labels", "metadata.annotations"):
            raise FieldError(f"fieldPath {path!r} does not support subscript")
        checked = key.lower() if head == "metadata.annotations" else key
        if not _QUALIFIED_NAME.match(checked) or len(checked.rpartition("/")[2]) > 63:
            raise FieldError(f"invalid key subscript in {path}: {key!r} is not a qualified name")
        return str((meta.get(head.split(".")[1]) or {}).get(key, ""))
    if path in ("metadata.labels", "metadata.annotations"):
        return format_map(meta.get(path.split(".")[1]) or {})
    if path in ("metadata.name", "metadata.namespace", "metadata.uid"):
        return str(meta.get(path.split(".")[1], ""))
    raise FieldError(f"unsupported fieldPath: {path}")


def pod_field(pod: Mapping[str, Any], path: str, api_version: str = "v1", node_ip: str = "",
              pod_ips: list[str] | None = None) -> str:
    """A field for an env var: ``object_field`` plus what only the node knows."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    if pod_ips is None:
        pod_ips = [p["ip"] for p in status.get("podIPs") or [] if p.get("ip")] or (
            [status["podIP"]] if status.get("podIP") else [])
    host_ips = [node_ip] if node_ip else [h["ip"] for h in status.get("hostIPs") or [] if h.get("ip")] or (
        [status["hostIP"]] if status.get("hostIP") else [])
    if api_version not in ("", "v1"):
        raise FieldError(f"unsupported pod version: {api_version}")
    if path == "spec.nodeName":
        return str(spec.get("nodeName", ""))
    if path == "spec.serviceAccountName":
        return str(spec.get("serviceAccountName", ""))
    if path == "status.hostIP":
        return host_ips[0] if host_ips else ""
    if path == "status.hostIPs":
        return ",".join(host_ips)
    if path == "status.podIP":
        return pod_ips[0] if pod_ips else ""
    if path == "status.podIPs":
        return ",".join(pod_ips)
    return object_field(pod, path)


def host_allocatable() -> dict[str, str]:
    """This machine's CPUs, memory and root filesystem size: the limits a limitless container reports."""
    out = {"cpu": str(os.cpu_count() or 1)}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    out["memory"] = str(int(line.split()[1]) * 1024)
    except OSError:
        pass
    st = os.statvfs("/")
    out["ephemeral-storage"] = str(st.f_blocks * st.f_frsize)
    return out


def _find_container(pod: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    spec = pod.get("spec") or {}
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if c.get("name") == name:
            return dict(c)
    raise FieldError(f"container {name} not found")


def resource_value(selector: Mapping[str, Any], pod: Mapping[str, Any], container: Mapping[str, Any] | None,
                   allocatable: Mapping[str, str]) -> str:
    """``resourceFieldRef``: a container's request or limit, divided and rounded up; no limit -> allocatable."""
    name = selector.get("containerName") or ""
    if name or container is None:
        container = _find_container(pod, name)
    resources = container.get("resources") or {}
    limits = dict(resources.get("limits") or {})
    requests = dict(resources.get("requests") or {})
    for r in RESOURCES:
        # The API server defaults a missing request to the limit the user gave, before the node default applies.
        if r not in requests and r in limits:
            requests[r] = limits[r]
        if (r not in limits or quantity(limits[r]) == 0) and r in allocatable:
            limits[r] = allocatable[r]
    resource = str(selector.get("resource", ""))
    kind, _, res = resource.partition(".")
    if kind not in ("limits", "requests") or not (res in RESOURCES or res.startswith("hugepages-")):
        raise FieldError(f"unsupported container resource : {resource}")
    divisor = quantity(selector.get("divisor") or "0")
    if divisor == 0:
        divisor = Fraction(1)
    amount = quantity((limits if kind == "limits" else requests).get(res, "0"))
    if res == "cpu":
        return str(math.ceil(Fraction(math.ceil(amount * 1000), math.ceil(divisor * 1000))))
    return str(math.ceil(Fraction(math.ceil(amount), math.ceil(divisor))))
