"""Issue 5's acceptance through kubectl on a real `kubelite up` node: the controllers, the scheduler and the
agent together, with pods that really run (their readiness comes from the agent, not from a test's patch)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.agent.nodecluster import NodeCluster

pytestmark = pytest.mark.root


@pytest.fixture(scope="module", autouse=True)
def second_tag(cluster: NodeCluster) -> None:
    """A second tag of the default image, so `kubectl set image` has somewhere to go."""
    subprocess.run([sys.executable, "-m", "kubelite.cli.main", "tag", "busybox", "busybox:v2"],
                   check=True, env=cluster.env, cwd=str(cluster.env["PYTHONPATH"]), capture_output=True)


def running(c: NodeCluster, selector: str) -> list[dict]:  # type: ignore[type-arg]
    pods = c.json("get", "pods", "-l", selector)["items"]
    return [p for p in pods if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]


def test_deployment_rollout_scale_and_undo(cluster: NodeCluster) -> None:
    c = cluster
    c.ok("create", "deployment", "web", "--image=busybox", "--replicas=2", "--", "sleep", "100000")
    c.ok("rollout", "status", "deployment/web", "--timeout=90s", timeout=100)
    assert len(running(c, "app=web")) == 2
    c.ok("scale", "deployment/web", "--replicas=3")
    c.ok("rollout", "status", "deployment/web", "--timeout=90s", timeout=100)
    c.wait_for("3 running", lambda: len(running(c, "app=web")) == 3)

    c.ok("set", "image", "deployment/web", "busybox=busybox:v2")
    c.ok("rollout", "status", "deployment/web", "--timeout=120s", timeout=130)
    images = {p["spec"]["containers"][0]["image"] for p in running(c, "app=web")}
    assert images == {"busybox:v2"}
    history = c.ok("rollout", "history", "deployment/web")
    assert "1" in history and "2" in history
    c.ok("rollout", "undo", "deployment/web")
    c.ok("rollout", "status", "deployment/web", "--timeout=120s", timeout=130)
    c.wait_for("back on busybox", lambda: {p["spec"]["containers"][0]["image"]
                                           for p in running(c, "app=web")} == {"busybox"})
    c.ok("delete", "deployment", "web")
    c.wait_for("pods gone", lambda: not c.json("get", "pods", "-l", "app=web")["items"], 90)


def test_a_job_runs_to_completion(cluster: NodeCluster) -> None:
    c = cluster
    c.ok("create", "job", "count", "--image=busybox", "--", "sh", "-c", "echo counted")
    c.ok("wait", "--for=condition=complete", "job/count", "--timeout=90s", timeout=100)
    assert c.ok("logs", "job/count") == "counted\n"
    job = c.json("get", "job", "count")
    assert job["status"]["succeeded"] == 1
    c.ok("delete", "job", "count")
