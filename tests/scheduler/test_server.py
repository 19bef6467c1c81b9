"""`kubelite server` runs this scheduler itself (behind its kube-scheduler Lease): a pod created with kubectl
gets bound with no scheduler in the test process."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import Cluster, start_cluster, stop_cluster
from tests.scheduler.helpers import node


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    data: Path = tmp_path_factory.mktemp("sched-server") / "data"
    # the scheduler but no controllers: simulated nodes renew no Lease, the node lifecycle controller would taint them
    c = start_cluster(data, ("--controllers=",), control_plane=True)
    try:
        yield c
    finally:
        stop_cluster(c)


def wait(check: object, what: str, timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = check() if callable(check) else None
        if out:
            return out
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_server_schedules_pods(server: Cluster) -> None:
    n = node("srv-node")
    status = n.pop("status")
    server.ok("create", "-f", "-", input=json.dumps(n))
    server.ok("patch", "node", "srv-node", "--subresource=status", "--type=merge", "-p",
              json.dumps({"status": status}))
    server.ok("run", "web", "--image=busybox", "--restart=Never")
    assert wait(lambda: server.ok("get", "pod", "web", "-o", "jsonpath={.spec.nodeName}"),
                "the pod bound by the server's scheduler") == "srv-node"
    lease = json.loads(server.ok("get", "lease", "kube-scheduler", "-n", "kube-system", "-o", "json"))
    assert lease["spec"]["holderIdentity"]
    out = wait(lambda: (lambda o: o if "Scheduled" in o else "")(server.ok("describe", "pod", "web")),
               "the Scheduled event")
    assert "Successfully assigned default/web to srv-node" in str(out)
