"""``cluster``: a real `kubelite up` node for the tests of one module, checked for leftovers when it stops."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.nodecluster import NodeCluster, start_node_cluster, stop_node_cluster


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeCluster]:
    c = start_node_cluster(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    try:
        yield c
    finally:
        c.kubectl("delete", "deployments,jobs,cronjobs,statefulsets,daemonsets,replicasets", "--all",
                  "--wait=true", timeout=120)
        stop_node_cluster(c)
    base = str(c.base)
    mounts = [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if base in line]
    assert not mounts, f"mounts left behind: {mounts}"
    procs = subprocess.run(["pgrep", "-f", base], capture_output=True, text=True).stdout.split()
    assert not procs, f"processes left behind: {procs}"
