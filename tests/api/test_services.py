"""Service defaulting and the store-backed allocators of cluster IPs and node ports."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import pytest

from kubelite.api.allocators import IP_PREFIX, PORT_PREFIX, Allocators
from kubelite.api.errors import FieldsInvalid
from kubelite.api.kubernetes_service import SERVICE_IP as KUBERNETES_SERVICE_IP
from kubelite.api.kubernetes_service import ensure_kubernetes_service
from kubelite.api.registry import REGISTRY
from kubelite.api.security.pki import BASE_IPS
from kubelite.api.server import bootstrap
from kubelite.api.storage import Storage
from kubelite.store import open_store
from tests.api.conftest import Cluster

CIDR = ipaddress.ip_network("10.96.0.0/12")


def test_defaults_and_unique_ips(cluster: Cluster) -> None:
    ips = set()
    for i in range(5):
        cluster.ok("create", "service", "clusterip", f"s{i}", "--tcp=80:8080")
        spec = cluster.json("get", "svc", f"s{i}")["spec"]
        assert isinstance(spec, dict)
        assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None"
        assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
        assert spec["clusterIPs"] == [spec["clusterIP"]] and ipaddress.ip_address(spec["clusterIP"]) in CIDR
        ips.add(spec["clusterIP"])
    assert len(ips) == 5
    head = cluster.ok("get", "svc", "s0").splitlines()
    assert head[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]


def test_requested_ip_and_conflicts(cluster: Cluster) -> None:
    svc = """apiVersion: v1
kind: Service
metadata: {name: %s}
spec: {clusterIP: %s, ports: [{port: 80}]}
"""
    cluster.ok("create", "-f", "-", input=svc % ("fixed", "10.96.0.10"))
    err = cluster.fail("create", "-f", "-", input=svc % ("clash", "10.96.0.10"))
    assert "failed to allocate IP 10.96.0.10: provided IP is already allocated" in err
    err = cluster.fail("create", "-f", "-", input=svc % ("outside", "192.168.1.1"))
    assert "is not in the valid range. The range of valid IPs is 10.96.0.0/12" in err
    err = cluster.fail("patch", "svc", "fixed", "-p", '{"spec":{"clusterIP":"10.96.0.11"}}')
    assert "may not change once set" in err
    cluster.ok("delete", "svc", "fixed")  # released: the address can be had again
    cluster.ok("create", "-f", "-", input=svc % ("again", "10.96.0.10"))
    cluster.ok("create", "-f", "-", input=svc % ("headless", "None"))
    spec = cluster.json("get", "svc", "headless")["spec"]
    assert isinstance(spec, dict) and spec["clusterIPs"] == ["None"]


def test_node_ports(cluster: Cluster) -> None:
    cluster.ok("create", "service", "nodeport", "np", "--tcp=80:8080")
    port = cluster.json("get", "svc", "np")["spec"]["ports"][0]  # type: ignore[index]
    assert 30000 <= port["nodePort"] <= 32767
    assert f"80:{port['nodePort']}/TCP" in cluster.ok("get", "svc", "np")
    err = cluster.fail("create", "service", "nodeport", "np2", "--tcp=80:8080", f"--node-port={port['nodePort']}")
    assert "provided port is already allocated" in err
    err = cluster.fail("create", "service", "nodeport", "np3", "--tcp=80:8080", "--node-port=80")
    assert "provided port is not in the valid range. The range of valid ports is 30000-32767" in err
    # apply without nodePort keeps the allocated one
    cluster.ok("label", "svc", "np", "x=y")
    assert cluster.json("get", "svc", "np")["spec"]["ports"][0]["nodePort"] == port["nodePort"]  # type: ignore[index]
    cluster.ok("create", "service", "loadbalancer", "lb", "--tcp=443:8443")
    assert cluster.json("get", "svc", "lb")["spec"]["ports"][0]["nodePort"] >= 30000  # type: ignore[index]
    cluster.ok("create", "service", "externalname", "ext", "--external-name=example.com")
    spec = cluster.json("get", "svc", "ext")["spec"]
    assert isinstance(spec, dict) and "clusterIP" not in spec


def test_allocator_unit(tmp_path: Path) -> None:
    async def main() -> None:
        store = await open_store(f"sqlite://{tmp_path}/a.db")
        alloc = Allocators(store, ipaddress.ip_network("10.0.0.0/28"), (30000, 30002))
        svc = REGISTRY.lookup("", "v1", "services")
        assert svc is not None
        got = []
        for i in range(14):  # a /28 holds 14 usable addresses
            obj = {"metadata": {"name": f"s{i}", "namespace": "d"}, "spec": {"type": "ClusterIP"}}
            await alloc.admit(svc, obj, None)
            got.append(obj["spec"]["clusterIP"])  # type: ignore[index]
        assert len(set(got)) == 14 and "10.0.0.0" not in got and "10.0.0.15" not in got
        with pytest.raises(FieldsInvalid, match="range is full"):
            await alloc.admit(svc, {"metadata": {"name": "x"}, "spec": {"type": "ClusterIP"}}, None)
        # release on delete, undo a failed write, dry runs reserve nothing
        await alloc.release(svc, None, {"spec": {"clusterIPs": [got[0]]}})
        dry = {"metadata": {"name": "dry"}, "spec": {"type": "NodePort", "ports": [{"port": 1}]}}
        await alloc.admit(svc, dry, None, dry_run=True)
        assert not (await store.list(PORT_PREFIX)).items
        np = {"metadata": {"name": "np"}, "spec": {"type": "NodePort", "ports": [{"port": 1}, {"port": 2}]}}
        taken = await alloc.admit(svc, np, None)
        assert len(taken) == 3 and {p["nodePort"] for p in np["spec"]["ports"]} <= {30000, 30001, 30002}  # type: ignore[index]
        await alloc.undo(taken)
        assert not (await store.list(PORT_PREFIX)).items
        assert len((await store.list(IP_PREFIX)).items) == 13
        await store.close()

    asyncio.run(main())


def test_kubernetes_service(cluster: Cluster) -> None:
    svc = cluster.json("get", "svc", "kubernetes", "-n", "default")
    spec = svc["spec"]
    assert isinstance(spec, dict) and spec["clusterIP"] == "10.96.0.1" == KUBERNETES_SERVICE_IP
    assert spec["ports"] == [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": cluster.port}]
    assert svc["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}  # type: ignore[index]
    assert "10.96.0.1" in BASE_IPS  # in the serving certificate's SANs
    ep = cluster.json("get", "endpoints", "kubernetes", "-n", "default")
    assert ep["subsets"][0]["ports"] == [{"name": "https", "port": cluster.port, "protocol": "TCP"}]  # type: ignore[index]
    eps = cluster.json("get", "endpointslices", "kubernetes", "-n", "default")
    assert eps["ports"][0]["port"] == cluster.port  # type: ignore[index]
    assert eps["endpoints"][0]["addresses"] == ep["subsets"][0]["addresses"][0]["ip"].split()  # type: ignore[index]
    err = cluster.fail("create", "service", "clusterip", "squatter", "--tcp=80:80", "--clusterip=10.96.0.1")
    assert "provided IP is already allocated" in err


def test_kubernetes_service_follows_the_server(tmp_path: Path) -> None:
    async def main() -> None:
        store = await open_store(f"sqlite://{tmp_path}/k.db")
        storage = Storage(store)
        svc, ep = REGISTRY.lookup("", "v1", "services"), REGISTRY.lookup("", "v1", "endpoints")
        assert svc is not None and ep is not None
        await bootstrap(storage)
        await ensure_kubernetes_service(storage, "192.0.2.1", 6443)
        await ensure_kubernetes_service(storage, "192.0.2.7", 7443)  # restarted elsewhere: ports and address follow
        got = await storage.get(svc, "default", "kubernetes")
        assert got["spec"]["clusterIP"] == "10.96.0.1" and got["spec"]["ports"][0]["targetPort"] == 7443
        eps = await storage.get(ep, "default", "kubernetes")
        assert eps["subsets"] == [{"addresses": [{"ip": "192.0.2.7"}],
                                   "ports": [{"name": "https", "port": 7443, "protocol": "TCP"}]}]
        rv = (await store.list("/registry/")).revision
        await ensure_kubernetes_service(storage, "192.0.2.7", 7443)  # nothing changed: nothing written
        assert (await store.list("/registry/")).revision == rv
        await store.close()

    asyncio.run(main())
