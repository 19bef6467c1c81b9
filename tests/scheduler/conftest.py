"""A real API server with the scheduler running in-process: the fixture the scheduler's integration tests use.

``sched`` (module scope) starts ``kubelite.cli.server`` with
:func:`tests.api.conftest.start_cluster` and runs :func:`start_scheduler` on an
asyncio loop in a background thread. No node agent runs: Node objects are
created by the tests (capacity, allocatable, a Ready condition, taints), as a
kwok-style simulator would. ``ns`` gives each test a namespace and ``nodes``
a way to add Nodes; both are emptied after the test (pods deleted at once,
nodes deleted), so tests of a module never see each other's objects.
``wait_for`` polls until a condition holds; its deadline only turns a hang into
a failure with a message, it asserts nothing about speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kubelite.api.client import APIClient, resource_path
from kubelite.errors import KubeliteError
from kubelite.scheduler import Scheduler
from tests.api.conftest import Cluster, cluster_with_loop
from tests.scheduler.helpers import node as node_dict

T = TypeVar("T")
Obj = dict[str, Any]


class SchedulerHarness:
    def __init__(self, cluster: Cluster, loop: asyncio.AbstractEventLoop, client: APIClient) -> None:
        self.scheduler = Scheduler(client)
        self.cluster = cluster
        self.loop = loop
        self.client = client
        self.ok, self.kubectl, self.json = cluster.ok, cluster.kubectl, cluster.json

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def wait_for(self, check: Callable[[], T], what: str, timeout: float = 60) -> T:
        deadline = time.monotonic() + timeout
        last: T | None = None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what} (last: {last!r})")

    def describe_until(self, ns: str, name: str, text: str) -> str:
        """``kubectl describe pod`` once its output shows ``text``."""
        def check() -> str:
            out = self.ok("describe", "pod", name, "-n", ns)
            return out if text in out else ""
        return self.wait_for(check, f"{text!r} in kubectl describe pod {name}")

    def create_pod(self, pod: Obj) -> Obj:
        ns = pod["metadata"]["namespace"]
        pod = {**pod, "metadata": {k: v for k, v in pod["metadata"].items() if k != "uid"}}
        return self.run(self.client.create(resource_path("v1", "pods", ns), pod))

    def get_pod(self, ns: str, name: str) -> Obj:
        return self.run(self.client.get(resource_path("v1", "pods", ns, name)))

    def pods(self, ns: str) -> list[Obj]:
        items: list[Obj] = self.run(self.client.list(resource_path("v1", "pods", ns))).get("items") or []
        return items

    def bound(self, ns: str, name: str) -> str:
        """The pod's node once it is bound (empty until then)."""
        try:
            return str(self.get_pod(ns, name)["spec"].get("nodeName") or "")
        except KubeliteError:
            return ""

    def condition(self, ns: str, name: str) -> Obj | None:
        conds = self.get_pod(ns, name).get("status", {}).get("conditions") or []
        return next((c for c in conds if c.get("type") == "PodScheduled"), None)


@pytest.fixture(scope="module")
def sched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchedulerHarness]:
    data: Path = tmp_path_factory.mktemp("scheduler") / "data"
    with cluster_with_loop(data, user_agent="kube-scheduler") as (cluster, loop, client):  # no other scheduler
        h = SchedulerHarness(cluster, loop, client)
        h.run(h.scheduler.start())
        try:
            yield h
        finally:
            h.run(h.scheduler.stop())


_counter = itertools.count()


@pytest.fixture
def ns(sched: SchedulerHarness) -> Iterator[str]:
    name = f"s{next(_counter)}-{int(time.time() * 1000) % 100000}"
    sched.ok("create", "namespace", name)
    yield name
    for p in sched.pods(name):
        with contextlib.suppress(KubeliteError):
            sched.run(sched.client.delete(resource_path("v1", "pods", name, p["metadata"]["name"]),
                                          gracePeriodSeconds=0))


class Nodes:
    def __init__(self, h: SchedulerHarness) -> None:
        self.h = h
        self.names: list[str] = []

    def add(self, name: str, **kw: Any) -> Obj:
        obj = node_dict(name, **kw)
        status = obj.pop("status")
        self.h.run(self.h.client.create("/api/v1/nodes", obj))
        self.names.append(name)
        # status is a subresource: the create drops it, as for a kubelet registering
        out = self.h.run(self.h.client.patch(f"/api/v1/nodes/{name}/status", {"status": status}))
        rv = out["metadata"]["resourceVersion"]

        def seen() -> bool:  # the scheduler's cache has this version: pods created next see the node as it is
            ni = self.h.scheduler.cache.get(name)
            return ni is not None and ni.node is not None and ni.node["metadata"]["resourceVersion"] == rv
        self.h.wait_for(seen, f"node {name} in the scheduler's cache")
        return out


@pytest.fixture
def nodes(sched: SchedulerHarness) -> Iterator[Nodes]:
    n = Nodes(sched)
    yield n
    for name in n.names:
        with contextlib.suppress(KubeliteError):
            sched.run(sched.client.delete(f"/api/v1/nodes/{name}"))
