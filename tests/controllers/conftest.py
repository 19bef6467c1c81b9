"""A real API server plus the controllers running in-process: the fixture every controller test uses.

Generic on purpose, for every controller's tests (ReplicaSet, Deployment, the
garbage collector, Jobs, DaemonSets...):

- ``controllers`` (module scope) starts a real ``kubelite.cli.server`` with
  :func:`tests.api.conftest.start_cluster` and runs
  :func:`kubelite.controllers.manager.start_controllers` on an asyncio loop in a
  background thread of the test process. A test module picks what runs by
  module attributes: ``CONTROLLERS = {"replicaset", "deployment"}`` (default:
  every registered controller) and ``CONTROLLER_OPTIONS = ControllerOptions(...)``.
  The server stores in SQLite, or in the session's etcd when
  ``KUBELITE_CONTROLLER_TESTS_DATASTORE=etcd``. It runs no controllers and no
  scheduler of its own (``--controllers= --no-scheduler``), so the in-process
  controllers are the only ones acting.
- ``ns`` (function scope) is a fresh namespace per test, so tests of one module
  share the server without seeing each other's objects.
- No node agent runs: :meth:`ControllerHarness.make_ready` stands in for the
  kubelet by writing pods' status (Running, Ready) through the real
  ``pods/status`` subresource, and :meth:`ControllerHarness.kubelet` keeps doing
  so for every new pod until its block ends (for ``kubectl rollout status``).
- :meth:`ControllerHarness.restart` replaces the running controllers with fresh
  ones, to check that a controller picks up where a crashed one left off.
- :meth:`ControllerHarness.wait_for` polls until a condition holds; its deadline
  only turns a hang into a failure with a message, it asserts nothing about speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kubelite.api.client import APIClient, resource_path
from kubelite.api.informer import Informer
from kubelite.controllers.manager import start_controllers
from kubelite.controllers.options import ControllerOptions
from kubelite.errors import KubeliteError
from tests.api.conftest import Cluster, cluster_with_loop, datastore_url

T = TypeVar("T")
DATASTORE_ENV = "KUBELITE_CONTROLLER_TESTS_DATASTORE"  # "sqlite" (default) or "etcd"
Obj = dict[str, Any]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ready_status(pod: Obj, ready: bool = True) -> Obj:
    """The status a kubelet writes for a pod whose containers run (and pass readiness when ``ready``)."""
    now, flag = _now(), "True" if ready else "False"
    containers = (pod.get("spec") or {}).get("containers") or []
    return {
        "phase": "Running", "startTime": now, "hostIP": "127.0.0.1", "podIP": "10.0.0.1",
        "conditions": [{"type": t, "status": s, "lastTransitionTime": now} for t, s in
                       (("PodScheduled", "True"), ("Initialized", "True"), ("ContainersReady", flag), ("Ready", flag))],
        "containerStatuses": [{"name": c.get("name"), "image": c.get("image"), "imageID": "", "ready": ready,
                               "started": True, "restartCount": 0, "state": {"running": {"startedAt": now}}}
                              for c in containers],
    }


def is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


class ControllerHarness:
    def __init__(self, cluster: Cluster, loop: asyncio.AbstractEventLoop, client: APIClient) -> None:
        self.cluster = cluster
        self.loop = loop
        self.client = client
        self.ok, self.kubectl, self.fail, self.json = cluster.ok, cluster.kubectl, cluster.fail, cluster.json
        self._stop: Callable[[], Awaitable[None]] | None = None
        self._started_with: tuple[set[str] | None, ControllerOptions | None] = (None, None)

    def start(self, only: set[str] | None = None, options: ControllerOptions | None = None) -> None:
        """Start the controllers (``only`` those, with ``options``) on the harness's loop."""
        self._started_with = (only, options)
        self._stop = self.run(start_controllers(self.client, options, only))

    def stop(self) -> None:
        if self._stop is not None:
            self.run(self._stop())
            self._stop = None

    def restart(self) -> None:
        """Stop the controllers and start fresh ones (empty caches, no memory), as after a crash."""
        self.stop()
        self.start(*self._started_with)

    def run(self, aw: Awaitable[T], timeout: float = 60) -> T:
        """Run ``aw`` on the controllers' loop and return its result."""
        async def wrapped() -> T:
            return await aw
        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout)

    def wait_for(self, check: Callable[[], T], what: str, timeout: float = 60) -> T:
        """Poll ``check`` until it returns something truthy; fail with ``what`` if it never does."""
        deadline = time.monotonic() + timeout
        last: T | None = None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what} (last: {last!r})")

    def pods(self, namespace: str, selector: str | None = None) -> list[Obj]:
        out = self.run(self.client.list(resource_path("v1", "pods", namespace), labelSelector=selector))
        items: list[Obj] = out.get("items") or []
        return items

    def make_ready(self, namespace: str, selector: str | None = None, ready: bool = True) -> list[str]:
        """Mark every live pod (matching ``selector``) Running and Ready; returns their names."""
        names = []
        for pod in self.pods(namespace, selector):
            if pod["metadata"].get("deletionTimestamp"):
                continue
            self.run(self.client.patch(resource_path("v1", "pods", namespace, pod["metadata"]["name"], "status"),
                                       {"status": ready_status(pod, ready)}))
            names.append(pod["metadata"]["name"])
        return names

    @contextlib.contextmanager
    def kubelet(self, namespace: str) -> Iterator[None]:
        """While the block runs, every pod that appears in ``namespace`` is made Ready (a kubelet stand-in)."""
        informer = Informer(self.client, resource_path("v1", "pods", namespace), name="test kubelet")
        pending: asyncio.Queue[Obj] = asyncio.Queue()

        def handler(etype: str, pod: Obj, old: Obj | None) -> None:
            if etype != "DELETED" and not is_ready(pod) and not pod["metadata"].get("deletionTimestamp"):
                pending.put_nowait(pod)

        async def work() -> None:
            while True:
                pod = await pending.get()
                with contextlib.suppress(KubeliteError):
                    await self.client.patch(resource_path("v1", "pods", namespace, pod["metadata"]["name"],
                                                          "status"), {"status": ready_status(pod)})

        async def start() -> asyncio.Task[None]:
            informer.add_handler(handler)
            await informer.start()
            return asyncio.create_task(work())

        task = self.run(start())
        try:
            yield
        finally:
            async def stop() -> None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await informer.stop()
            self.run(stop())


@pytest.fixture(scope="module")
def controllers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControllerHarness]:
    only: set[str] | None = getattr(request.module, "CONTROLLERS", None)
    options: ControllerOptions | None = getattr(request.module, "CONTROLLER_OPTIONS", None)
    data: Path = tmp_path_factory.mktemp("controllers") / "data"
    driver = os.environ.get(DATASTORE_ENV, "sqlite")
    extra = () if driver == "sqlite" else ("--datastore", datastore_url(driver, data, request))
    # start_cluster runs the API server alone: its own controllers would race the ones under test.
    with cluster_with_loop(data, extra, user_agent="kube-controller-manager") as (cluster, loop, client):
        h = ControllerHarness(cluster, loop, client)
        h.start(only, options)
        try:
            yield h
        finally:
            h.stop()

_ns_counter = itertools.count()


@pytest.fixture
def ns(controllers: ControllerHarness) -> str:
    """A fresh namespace for one test."""
    name = f"t{next(_ns_counter)}-{int(time.time() * 1000) % 100000}"
    controllers.ok("create", "namespace", name)
    return name
