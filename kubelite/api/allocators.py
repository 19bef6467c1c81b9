"""Service cluster IPs and node ports, allocated in the store so two Services never share one.

kube-apiserver keeps a bitmap per range in one etcd key and updates it with a
compare-and-swap. Here every allocated value is its own key,
``/registry/ranges/serviceips/<ip>`` or ``/registry/ranges/servicenodeports/<port>``,
holding the owner's ``namespace/name``: the store's create-if-absent is the
atomic "take it if free", there is no hot key for concurrent creates to fight
over, and a prefix list shows what is in use (a repair loop can compare it
with the Services later). Storage calls :meth:`Allocators.admit` after
validation and before the write, :meth:`Allocators.undo` if the write fails
and :meth:`Allocators.release` after a successful update or delete for what
the old object held and the new one does not.

As in Kubernetes, random allocation picks from the upper part of the range,
leaving the lower part for Services that ask for a specific address (the
first address, ``10.96.0.1``, is the ``kubernetes`` Service's); an address or
port asked for that is taken or out of range is a 422 on ``spec.clusterIPs``
or ``spec.ports[i].nodePort`` with kube-apiserver's wording. Dry runs check
but reserve nothing.
"""

from __future__ import annotations

import ipaddress
import secrets

from kubelite.api.errors import Cause, FieldsInvalid, Resource, invalid_value
from kubelite.api.registry.base import Obj, Strategy
from kubelite.errors import AlreadyExists, NotFound
from kubelite.store.contracts import Store

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODE_PORTS = (30000, 32767)
IP_PREFIX = "/registry/ranges/serviceips/"
PORT_PREFIX = "/registry/ranges/servicenodeports/"
SERVICES = Resource("", "services", "Service")
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")
RANDOM_TRIES = 64


def _is_service(s: Strategy) -> bool:
    return s.group == "" and s.kind == "Service"


def held(svc: Obj | None) -> set[str]:
    """The allocator keys a Service holds: its cluster IPs and node ports."""
    if not svc:
        return set()
    spec = svc.get("spec") or {}
    out = {IP_PREFIX + ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]
           if isinstance(ip, str) and ip and ip != "None"}
    for p in spec.get("ports") or []:
        if isinstance(p, dict) and isinstance(p.get("nodePort"), int):
            out.add(PORT_PREFIX + str(p["nodePort"]))
    return out


class Allocators:
    """Reserve, roll back and release Service IPs and node ports in one store."""

    def __init__(self, store: Store, cidr: ipaddress.IPv4Network | ipaddress.IPv6Network = SERVICE_CIDR,
                 node_ports: tuple[int, int] = NODE_PORTS) -> None:
        self.store = store
        self.cidr = cidr
        self.node_ports = node_ports
        size = cidr.num_addresses
        self._lower = min(max(16, size // 16), 256)  # Kubernetes' static band, kept for asked-for addresses
        if size - self._lower - 1 <= 0:  # a tiny range: no band
            self._lower = 1
        self._size = size

    async def admit(self, s: Strategy, new: Obj, old: Obj | None, dry_run: bool = False) -> list[str]:
        """Fill in and reserve what ``new`` needs beyond ``old``; the keys reserved (to undo on failure)."""
        if not _is_service(s):
            return []
        spec = new.get("spec")
        if not isinstance(spec, dict):
            return []
        owner = f"{new['metadata'].get('namespace', '')}/{new['metadata'].get('name', '')}"
        have = held(old)
        taken: list[str] = []
        try:
            await self._cluster_ip(spec, owner, have, dry_run, taken, new)
            await self._node_ports(spec, owner, have, dry_run, taken, new)
        except BaseException:
            await self.undo(taken)
            raise
        return taken

    async def _cluster_ip(self, spec: Obj, owner: str, have: set[str], dry_run: bool, taken: list[str],
                          obj: Obj) -> None:
        if spec.get("type") == "ExternalName":
            return
        ip = spec.get("clusterIP") or ""
        if ip == "None":
            spec["clusterIPs"] = ["None"]
            return
        if not ip:
            ip = await self._random_ip(owner, dry_run, taken)
        elif IP_PREFIX + ip not in have:
            self._check_ip(ip, obj)
            if not await self._take(IP_PREFIX + ip, owner, dry_run, taken):
                raise self._invalid(obj, [invalid_value("spec.clusterIPs", f"[]string{{\"{ip}\"}}",
                                                        f"failed to allocate IP {ip}: provided IP is already "
                                                        "allocated")])
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]

    def _check_ip(self, ip: str, obj: Obj) -> None:
        try:
            inside = ipaddress.ip_address(ip) in self.cidr
        except ValueError:
            inside = False
        if not inside or ip == str(self.cidr.network_address) or ip == str(self.cidr.broadcast_address):
            raise self._invalid(obj, [invalid_value(
                "spec.clusterIPs", f"[]string{{\"{ip}\"}}",
                f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid "
                f"IPs is {self.cidr}")])

    async def _random_ip(self, owner: str, dry_run: bool, taken: list[str]) -> str:
        base = self.cidr.network_address
        for _ in range(RANDOM_TRIES):
            ip = str(base + self._lower + secrets.randbelow(self._size - self._lower - 1))
            if await self._take(IP_PREFIX + ip, owner, dry_run, taken):
                return ip
        used = {kv.key for kv in (await self.store.list(IP_PREFIX)).items}
        for off in range(1, self._size - 1):
            ip = str(base + off)
            if IP_PREFIX + ip not in used and await self._take(IP_PREFIX + ip, owner, dry_run, taken):
                return ip
        raise self._invalid({"metadata": {"name": owner.split("/")[-1]}}, [Cause(
            "FieldValueInvalid", "spec.clusterIPs", "failed to allocate a serviceIP: range is full")])

    async def _node_ports(self, spec: Obj, owner: str, have: set[str], dry_run: bool, taken: list[str],
                          obj: Obj) -> None:
        ports = spec.get("ports") or []
        wants = spec.get("type") in NODE_PORT_TYPES and not (
            spec.get("type") == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is False)
        lo, hi = self.node_ports
        for i, p in enumerate(ports):
            if not isinstance(p, dict):
                continue
            np = p.get("nodePort")
            if np is None:
                if wants:
                    p["nodePort"] = await self._random_port(owner, dry_run, taken, obj)
                continue
            if not isinstance(np, int) or PORT_PREFIX + str(np) in have:
                continue
            path = f"spec.ports[{i}].nodePort"
            if not lo <= np <= hi:
                raise self._invalid(obj, [invalid_value(path, np, f"provided port is not in the valid range. The "
                                                        f"range of valid ports is {lo}-{hi}")])
            if PORT_PREFIX + str(np) in taken or not await self._take(PORT_PREFIX + str(np), owner, dry_run,
                                                                        taken):
                raise self._invalid(obj, [invalid_value(path, np, "provided port is already allocated")])

    async def _random_port(self, owner: str, dry_run: bool, taken: list[str], obj: Obj) -> int:
        lo, hi = self.node_ports
        for _ in range(RANDOM_TRIES):
            port = lo + secrets.randbelow(hi - lo + 1)
            if PORT_PREFIX + str(port) not in taken and await self._take(PORT_PREFIX + str(port), owner, dry_run,
                                                                         taken):
                return port
        used = {kv.key for kv in (await self.store.list(PORT_PREFIX)).items} | set(taken)
        for port in range(lo, hi + 1):
            if PORT_PREFIX + str(port) not in used and await self._take(PORT_PREFIX + str(port), owner, dry_run,
                                                                        taken):
                return port
        raise self._invalid(obj, [Cause("FieldValueInvalid", "spec.ports",
                                        "failed to allocate a nodePort: range is full")])

    async def _take(self, key: str, owner: str, dry_run: bool, taken: list[str]) -> bool:
        if dry_run:
            try:
                await self.store.get(key)
                return False
            except NotFound:
                return True
        try:
            await self.store.create(key, owner.encode())
        except AlreadyExists:
            return False
        taken.append(key)
        return True

    @staticmethod
    def _invalid(obj: Obj, causes: list[Cause]) -> FieldsInvalid:
        return FieldsInvalid(SERVICES, str((obj.get("metadata") or {}).get("name", "")), causes)

    async def undo(self, keys: list[str]) -> None:
        """Give back what :meth:`admit` reserved for a write that did not happen."""
        for key in keys:
            try:
                await self.store.delete(key)
            except NotFound:
                pass

    async def release(self, s: Strategy, new: Obj | None, old: Obj | None) -> None:
        """After a successful write: free what ``old`` held and ``new`` (None once deleted) does not."""
        if _is_service(s):
            await self.undo(sorted(held(old) - held(new)))
