from tests.controllers.conftest import ControllerHarness, is_ready

CONTROLLERS: set[str] = set()


def test_harness(controllers: ControllerHarness, ns: str) -> None:
    controllers.ok("-n", ns, "run", "p1", "--image", "busybox")
    assert controllers.make_ready(ns) == ["p1"]
    assert is_ready(controllers.json("-n", ns, "get", "pod", "p1"))
    with controllers.kubelet(ns):
        controllers.ok("-n", ns, "run", "p2", "--image", "busybox")
        controllers.wait_for(lambda: is_ready(controllers.json("-n", ns, "get", "pod", "p2")), "p2 ready")
