"""What the scheduler knows about a pod and a node, computed once so that a cycle only compares numbers.

Kubernetes recomputes a pod's requests in several plugins; here :class:`PodInfo`
parses them (quantities, init containers, sidecars, overhead) once when the pod
enters the cache, and :class:`NodeInfo` keeps running sums of what its pods
request, the host ports in use and the pods with affinity terms, updated when a
pod is added or removed. A cycle over a thousand nodes then reads integers and
sets.

Units: CPU in millicores, memory and ephemeral storage in bytes, everything else
(extended resources, ``pods``) in whole units. A node that is not Ready carries
a synthetic ``node.kubernetes.io/not-ready`` (or ``unreachable``) NoSchedule
taint, which is what Kubernetes' node lifecycle controller would add, so the
taint plugin decides and pods that tolerate it (DaemonSet pods) still land.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from kubelite.api.quantity import milli_value, value
from kubelite.errors import Invalid

if TYPE_CHECKING:
    from kubelite.scheduler.columns import NodeColumns

Obj = dict[str, Any]

CPU, MEMORY, PODS, EPHEMERAL = "cpu", "memory", "pods", "ephemeral-storage"
# What a container without requests counts as when scoring (kube-scheduler's non-zero defaults).
DEFAULT_MILLI_CPU, DEFAULT_MEMORY = 100, 200 * 1024 * 1024
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"


@lru_cache(maxsize=4096)
def _quantity(name: str, q: str) -> int:
    try:
        return milli_value(q) if name == CPU else value(q)
    except Invalid:
        return 0


def quantity(name: str, q: Any) -> int:
    """A resource quantity in the scheduler's unit for ``name``; unparsable counts as 0."""
    return _quantity(name, str(q))


def resource_list(rl: Obj | None) -> dict[str, int]:
    return {k: quantity(k, v) for k, v in (rl or {}).items()}


def _add(into: dict[str, int], rl: dict[str, int]) -> None:
    for k, v in rl.items():
        into[k] = into.get(k, 0) + v


def _max(into: dict[str, int], rl: dict[str, int]) -> None:
    for k, v in rl.items():
        if v > into.get(k, 0):
            into[k] = v


def pod_requests(spec: Obj, non_zero: bool = False) -> dict[str, int]:
    """The pod's effective requests: the larger of the app containers' sum (plus sidecars) and the largest
    init container (plus the sidecars started before it), plus overhead, as resourcehelper.PodRequests."""
    def req(c: Obj) -> dict[str, int]:
        r = resource_list((c.get("resources") or {}).get("requests"))
        if non_zero:
            r.setdefault(CPU, DEFAULT_MILLI_CPU)
            r.setdefault(MEMORY, DEFAULT_MEMORY)
        return r

    total: dict[str, int] = {}
    for c in spec.get("containers") or []:
        _add(total, req(c))
    sidecars: dict[str, int] = {}
    init_max: dict[str, int] = {}
    for c in spec.get("initContainers") or []:
        r = req(c)
        if c.get("restartPolicy") == "Always":
            _add(sidecars, r)
            _max(init_max, dict(sidecars))
        else:
            tmp = dict(sidecars)
            _add(tmp, r)
            _max(init_max, tmp)
    _add(total, sidecars)
    _max(total, init_max)
    _add(total, resource_list(spec.get("overhead")))
    return total


def pod_key(pod: Obj) -> str:
    md = pod.get("metadata") or {}
    return f"{md.get('namespace', '')}/{md.get('name', '')}"


@dataclass(slots=True, eq=False)
class PodInfo:
    """A pod and what the scheduler derives from it."""

    pod: Obj
    key: str
    namespace: str
    labels: dict[str, str]
    priority: int
    milli_cpu: int
    memory: int
    ephemeral: int
    scalars: dict[str, int]  # extended resources
    nz_cpu: int  # requests with defaults for empty ones, for scoring
    nz_memory: int
    host_ports: list[tuple[str, str, int]]
    tolerations: list[Obj]
    affinity: Obj
    has_required_anti_affinity: bool
    has_affinity_terms: bool

    @classmethod
    def of(cls, pod: Obj) -> PodInfo:
        md, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        reqs = pod_requests(spec)
        nz = pod_requests(spec, non_zero=True)
        ports = [(p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(p["hostPort"]))
                 for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
                 for p in c.get("ports") or [] if p.get("hostPort")]
        aff = spec.get("affinity") or {}
        pa, paa = aff.get("podAffinity") or {}, aff.get("podAntiAffinity") or {}
        try:
            prio = int(spec.get("priority") or 0)
        except (TypeError, ValueError):
            prio = 0
        return cls(pod=pod, key=pod_key(pod), namespace=str(md.get("namespace", "")),
                   labels=md.get("labels") or {}, priority=prio,
                   milli_cpu=reqs.pop(CPU, 0), memory=reqs.pop(MEMORY, 0), ephemeral=reqs.pop(EPHEMERAL, 0),
                   scalars=reqs, nz_cpu=nz.get(CPU, 0), nz_memory=nz.get(MEMORY, 0), host_ports=ports,
                   tolerations=spec.get("tolerations") or [], affinity=aff,
                   has_required_anti_affinity=bool(paa.get("requiredDuringSchedulingIgnoredDuringExecution")),
                   has_affinity_terms=bool(pa or paa))


def _taints(node: Obj) -> list[Obj]:
    taints = [t for t in (node.get("spec") or {}).get("taints") or []]
    ready = next((c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)
    status = ready.get("status") if ready else "Unknown"
    if status != "True":
        key = NOT_READY_TAINT if status == "False" else UNREACHABLE_TAINT
        if not any(t.get("key") == key and t.get("effect") == "NoSchedule" for t in taints):
            taints.append({"key": key, "effect": "NoSchedule"})
    return taints


@dataclass(slots=True, eq=False)
class NodeInfo:
    """A node, its allocatable resources and the running sums of the pods on it (bound or assumed)."""

    name: str
    node: Obj | None = None  # None while pods name a node the informer has not delivered yet
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[Obj] = field(default_factory=list)
    unschedulable: bool = False
    alloc_cpu: int = 0
    alloc_memory: int = 0
    alloc_ephemeral: int = 0
    alloc_pods: int = 0
    alloc_scalars: dict[str, int] = field(default_factory=dict)
    req_cpu: int = 0
    req_memory: int = 0
    req_ephemeral: int = 0
    req_scalars: dict[str, int] = field(default_factory=dict)
    nz_cpu: int = 0
    nz_memory: int = 0
    pods: dict[str, PodInfo] = field(default_factory=dict)
    ports: dict[tuple[str, int], set[str]] = field(default_factory=dict)  # (protocol, port) -> host IPs
    with_affinity: dict[str, PodInfo] = field(default_factory=dict)
    with_required_anti_affinity: dict[str, PodInfo] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)  # image name -> size in bytes
    generation: int = 0
    # what is left, kept with the sums so Fit compares one number per resource
    free_cpu: int = 0
    free_memory: int = 0
    free_pods: int = 0
    # resource scores of the last pod shape scored here, dropped whenever the sums change:
    # ((cpu, memory), least allocated, balanced allocation)
    score_memo: tuple[tuple[int, int], int, int] | None = None
    # the cache's columns and this node's row in them, while it is in the cache's list
    columns: NodeColumns | None = None
    row: int = -1

    def set_node(self, node: Obj) -> None:
        status, spec = node.get("status") or {}, node.get("spec") or {}
        alloc = resource_list(status.get("allocatable") or status.get("capacity"))
        self.node = node
        self.labels = (node.get("metadata") or {}).get("labels") or {}
        self.taints = _taints(node)
        self.unschedulable = bool(spec.get("unschedulable"))
        self.alloc_cpu, self.alloc_memory = alloc.pop(CPU, 0), alloc.pop(MEMORY, 0)
        self.alloc_ephemeral, self.alloc_pods = alloc.pop(EPHEMERAL, 0), alloc.pop(PODS, 0)
        self.alloc_scalars = alloc
        self._free()
        self.images = {}
        for img in status.get("images") or []:
            for n in img.get("names") or []:
                self.images[_normalize_image(n)] = int(img.get("sizeBytes") or 0)
        self.generation += 1

    def add_pod(self, pi: PodInfo) -> None:
        self.pods[pi.key] = pi
        self._account(pi, 1)
        if pi.has_affinity_terms:
            self.with_affinity[pi.key] = pi
        if pi.has_required_anti_affinity:
            self.with_required_anti_affinity[pi.key] = pi
        for ip, proto, port in pi.host_ports:
            self.ports.setdefault((proto, port), set()).add(ip)

    def remove_pod(self, key: str) -> PodInfo | None:
        pi = self.pods.pop(key, None)
        if pi is None:
            return None
        self._account(pi, -1)
        self.with_affinity.pop(key, None)
        self.with_required_anti_affinity.pop(key, None)
        for ip, proto, port in pi.host_ports:
            ips = self.ports.get((proto, port))
            if ips is not None:
                ips.discard(ip)
                if not ips:
                    del self.ports[(proto, port)]
        return pi

    def _account(self, pi: PodInfo, sign: int) -> None:
        self.req_cpu += sign * pi.milli_cpu
        self.req_memory += sign * pi.memory
        self.req_ephemeral += sign * pi.ephemeral
        self.nz_cpu += sign * pi.nz_cpu
        self.nz_memory += sign * pi.nz_memory
        for k, v in pi.scalars.items():
            self.req_scalars[k] = self.req_scalars.get(k, 0) + sign * v
        self.generation += 1
        self._free()

    def _free(self) -> None:
        self.score_memo = None
        self.free_cpu = self.alloc_cpu - self.req_cpu
        self.free_memory = self.alloc_memory - self.req_memory
        self.free_pods = self.alloc_pods - len(self.pods)
        if self.columns is not None:
            self.columns.write(self.row, self)

    def clone(self) -> NodeInfo:
        """A copy whose pod accounting can change without touching this one (preemption's what-if)."""
        c = NodeInfo(self.name, self.node, self.labels, self.taints, self.unschedulable, self.alloc_cpu,
                     self.alloc_memory, self.alloc_ephemeral, self.alloc_pods, self.alloc_scalars, self.req_cpu,
                     self.req_memory, self.req_ephemeral, dict(self.req_scalars), self.nz_cpu, self.nz_memory,
                     dict(self.pods), {k: set(v) for k, v in self.ports.items()}, dict(self.with_affinity),
                     dict(self.with_required_anti_affinity), self.images, self.generation)
        c._free()
        return c


def _normalize_image(name: str) -> str:
    """``nginx`` and ``docker.io/library/nginx:latest`` are one image for locality."""
    if "@" not in name and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = "docker.io/library/" + name
    elif "." not in first and ":" not in first and first != "localhost":
        name = "docker.io/" + name
    return name


normalize_image = _normalize_image
