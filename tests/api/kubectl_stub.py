"""A minimal fake API server that lets the real kubectl get as far as POSTing, and records what it POSTs.

It serves just enough legacy discovery (``/api``, ``/apis`` and one resource
list per group-version) for kubectl to map a kind to its URL, serves the objects a
test puts in ``Stub.objects`` (by URL path) to GETs, answers every POST with
``201`` and a small JSON object, and keeps the raw request bodies and
their content types. Plain HTTP on loopback: no TLS, no credentials. Used by
the protobuf tests to capture kubectl's genuine wire bytes.
"""

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# group-version -> [(resource, kind, namespaced)]
RESOURCES: dict[str, list[tuple[str, str, bool]]] = {
    "v1": [
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("namespaces", "Namespace", False),
        ("services", "Service", True),
        ("resourcequotas", "ResourceQuota", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("pods", "Pod", True),
    ],
    "apps/v1": [("deployments", "Deployment", True)],
    "batch/v1": [("jobs", "Job", True), ("cronjobs", "CronJob", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "scheduling.k8s.io/v1": [("priorityclasses", "PriorityClass", False)],
    "networking.k8s.io/v1": [("ingresses", "Ingress", True)],
    "rbac.authorization.k8s.io/v1": [
        ("roles", "Role", True),
        ("rolebindings", "RoleBinding", True),
        ("clusterroles", "ClusterRole", False),
        ("clusterrolebindings", "ClusterRoleBinding", False),
    ],
}


@dataclass
class Capture:
    """One recorded POST."""

    path: str
    content_type: str
    body: bytes


@dataclass
class Stub:
    """The running server: its URL, a kubeconfig pointing at it, and what it captured."""

    url: str
    kubeconfig: Path
    captured: list[Capture] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=check,
        )

    def capture(self, *args: str) -> Capture:
        """Run one ``kubectl create ...`` and return the single POST it made."""
        before = len(self.captured)
        result = self.kubectl(*args, check=False)
        posts = self.captured[before:]
        if result.returncode != 0 or len(posts) != 1:
            raise AssertionError(f"kubectl {' '.join(args)} made {len(posts)} POSTs: {result.stderr}")
        return posts[0]


def _resource_list(group_version: str) -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {
                "name": resource,
                "singularName": kind.lower(),
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            }
            for resource, kind, namespaced in RESOURCES[group_version]
        ],
    }


def _group_list() -> dict[str, Any]:
    groups = []
    for group_version in RESOURCES:
        if "/" not in group_version:
            continue
        group, version = group_version.split("/")
        entry = {"groupVersion": group_version, "version": version}
        groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/api":
            self._json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        elif path == "/apis":
            self._json(200, _group_list())
        elif path == "/api/v1":
            self._json(200, _resource_list("v1"))
        elif path.startswith("/apis/") and path[len("/apis/") :] in RESOURCES:
            self._json(200, _resource_list(path[len("/apis/") :]))
        elif path in self.server.objects:
            self._json(200, self.server.objects[path])
        elif path == "/version":
            self._json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0"})
        else:
            self._json(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.captured.append(Capture(self.path, self.headers.get("Content-Type", ""), body))
        self._json(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})


class _Server(ThreadingHTTPServer):
    captured: list[Capture]
    objects: dict[str, dict[str, Any]]


@contextmanager
def running_stub(workdir: Path) -> Iterator[Stub]:
    """Start the stub on an ephemeral loopback port for the duration of the block."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.captured = []
    server.objects = {}
    url = f"http://127.0.0.1:{server.server_address[1]}"
    kubeconfig = workdir / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: stub\n  cluster:\n    server: {url}\n"
        "users:\n- name: stub\n  user:\n    token: stub\n"
        "contexts:\n- name: stub\n  context:\n    cluster: stub\n    user: stub\n    namespace: default\n"
        "current-context: stub\n"
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Stub(url, kubeconfig, server.captured, server.objects)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
