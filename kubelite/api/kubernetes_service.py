"""The ``default/kubernetes`` Service: how pods reach the API server, made and kept right at every start.

kube-apiserver's ``kubernetesservice`` controller and endpoint reconciler
keep three objects: the Service ``default/kubernetes`` (ClusterIP, the first
address of the service range, ``10.96.0.1``; port ``https`` 443 → the server's
port; no selector, labels ``component=apiserver``, ``provider=kubernetes``), and
its Endpoints and EndpointSlice (both named ``kubernetes``) holding the
server's advertised address and port. :func:`ensure_kubernetes_service` does
the same once per start through :class:`~kubelite.api.storage.Storage`, so
defaulting, validation and the cluster-IP allocator apply (the allocator's
random band leaves the low addresses free for it): it creates what is missing
and rewrites ports and addresses that no longer match, which are no-ops when
nothing changed. The serving certificate carries ``10.96.0.1`` in its SANs
(:data:`kubelite.api.security.pki.BASE_IPS`). Not done: recreating the objects
while the server runs if someone deletes them (kube re-checks every 10 s).
"""

from __future__ import annotations

import ipaddress
import logging
import socket

from kubelite.api.allocators import SERVICE_CIDR
from kubelite.api.registry.base import Obj
from kubelite.api.storage import Storage
from kubelite.errors import AlreadyExists, Conflict, Invalid, NotFound

log = logging.getLogger("kubelite.api")

NAME, NAMESPACE = "kubernetes", "default"
SERVICE_IP = str(SERVICE_CIDR.network_address + 1)
PORT_NAME = "https"
SERVICE_PORT = 443


def advertise_address(bind_address: str) -> str:
    """kube-apiserver's ``--advertise-address`` default: the bind address, or the host's primary address."""
    try:
        addr = ipaddress.ip_address(bind_address.strip("[]"))
        if not addr.is_unspecified:
            return str(addr)
    except ValueError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # no packet is sent: it only picks a route
        try:
            s.connect(("10.255.255.255", 1))
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def _ports(port: int) -> list[Obj]:
    return [{"name": PORT_NAME, "port": port, "protocol": "TCP"}]


def _service(port: int) -> Obj:
    return {"metadata": {"name": NAME, "namespace": NAMESPACE,
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": SERVICE_IP, "sessionAffinity": "None",
                     "ports": [{**_ports(SERVICE_PORT)[0], "targetPort": port}]}}


def _endpoints(address: str, port: int) -> Obj:
    return {"metadata": {"name": NAME, "namespace": NAMESPACE,
                         "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": address}], "ports": _ports(port)}]}


def _endpoint_slice(address: str, port: int) -> Obj:
    family = "IPv6" if ipaddress.ip_address(address).version == 6 else "IPv4"
    return {"metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {"kubernetes.io/service-name": NAME}},
            "addressType": family,
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
            "ports": _ports(port)}


async def ensure_kubernetes_service(storage: Storage, address: str, port: int) -> None:
    """Create ``default/kubernetes`` and its endpoints, or bring their ports and address up to date."""
    svc = storage.registry.lookup("", "v1", "services")
    ep = storage.registry.lookup("", "v1", "endpoints")
    eps = storage.registry.lookup("discovery.k8s.io", "v1", "endpointslices")
    assert svc is not None and ep is not None and eps is not None
    wanted = [(svc, _service(port), ("spec", "ports")), (ep, _endpoints(address, port), ("subsets",)),
              (eps, _endpoint_slice(address, port), ("addressType", "endpoints", "ports"))]
    for s, obj, owned in wanted:
        try:
            try:
                await storage.get(s, NAMESPACE, NAME)
            except NotFound:  # checked first: creating an existing Service would fail on its taken IP instead
                await storage.create(s, NAMESPACE, obj)
                continue

            def refresh(cur: Obj, obj: Obj = obj, owned: tuple[str, ...] = owned) -> Obj:
                if owned[0] == "spec":
                    cur.setdefault("spec", {})["ports"] = obj["spec"]["ports"]
                else:
                    cur.update({k: obj[k] for k in owned})
                return cur

            await storage.update(s, NAMESPACE, NAME, refresh)
        except (AlreadyExists, Conflict, Invalid, NotFound) as e:  # e.g. 10.96.0.1 taken by a Service made by hand: serve anyway
            log.warning("cannot maintain %s %s/%s: %s", s.kind, NAMESPACE, NAME, e)
