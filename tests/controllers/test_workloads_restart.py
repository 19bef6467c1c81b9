"""DaemonSet and StatefulSet controllers stopped mid-rollout and started again: they carry on from the state.

The module runs no controllers through the harness; each test starts and stops
its own with :func:`kubelite.controllers.manager.start_controllers`, as a
restarted kube-controller-manager would, with nothing carried over but what the
API holds.
"""

from __future__ import annotations

import json

from kubelite.controllers.manager import start_controllers
from tests.controllers.conftest import ControllerHarness
from tests.controllers.nodesim import fake_nodes, node_object, simulate
from tests.controllers.test_daemonset import ds_yaml, image_of, live
from tests.controllers.test_statefulset import names, sts_yaml

CONTROLLERS: set[str] = set()


def test_rollouts_resume_after_a_restart(controllers: ControllerHarness, ns: str) -> None:
    h = controllers
    nodes = [f"rs-{ns}-{i}" for i in range(3)]
    with fake_nodes(h, *(node_object(n, {"pool": ns}) for n in nodes)), simulate(h, ns, nodes) as sim:
        stop = h.run(start_controllers(h.client, only={"daemonset", "statefulset"}))
        try:
            sim.hold = lambda pod: pod["metadata"]["name"] == "db-1"
            h.ok("-n", ns, "apply", "-f", "-", input=sts_yaml("db"))
            h.ok("-n", ns, "apply", "-f", "-", input=ds_yaml("agent", node_selector={"pool": ns}))
            h.wait_for(lambda: names(h, ns, "db") == ["db-0", "db-1"], "db-0 and a not-ready db-1")
            h.ok("-n", ns, "rollout", "status", "ds/agent", "--timeout=60s")
            sim.hold = lambda pod: image_of(pod) == "busybox:2"
            h.ok("-n", ns, "set", "image", "ds/agent", "c=busybox:2")
            h.wait_for(lambda: [p for p in h.pods(ns, "app=agent") if image_of(p) == "busybox:2"], "one new daemon")
        finally:
            h.run(stop())

        # While no controller runs, the held pods turn Ready.
        sim.hold = lambda pod: False
        sim.poke()
        h.wait_for(lambda: all(p["status"].get("phase") == "Running" for p in live(h.pods(ns))), "all pods ready")

        stop = h.run(start_controllers(h.client, only={"daemonset", "statefulset"}))
        try:
            h.ok("-n", ns, "rollout", "status", "sts/db", "--timeout=60s")
            h.ok("-n", ns, "rollout", "status", "ds/agent", "--timeout=60s")
            assert names(h, ns, "db") == ["db-0", "db-1", "db-2"]
            daemons = live(h.pods(ns, "app=agent"))
            assert len(daemons) == 3 and {image_of(p) for p in daemons} == {"busybox:2"}
            ds = json.loads(h.ok("-n", ns, "get", "ds", "agent", "-o", "json"))
            assert ds["status"]["observedGeneration"] == ds["metadata"]["generation"]
        finally:
            h.run(stop())
