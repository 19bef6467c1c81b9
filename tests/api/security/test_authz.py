"""Request attributes from URLs, the fixed policy, and Kubernetes' Forbidden wording."""

from __future__ import annotations

import pytest

from kubelite.api.security.authn import UserInfo
from kubelite.api.security.authz import Authorizer, forbidden_message
from kubelite.api.security.requestinfo import RequestInfo, request_info

JANE = UserInfo("jane", "", ("dev", "system:authenticated"))
ADMIN = UserInfo("kubelite-admin", "", ("system:masters", "system:authenticated"))
NODE = UserInfo("system:node:n1", "", ("system:nodes", "system:authenticated"))
ANON = UserInfo("system:anonymous", "", ("system:unauthenticated",))


@pytest.mark.parametrize(
    ("method", "path", "query", "want"),
    [
        ("GET", "/api/v1/namespaces/default/pods", {}, ("list", "", "pods", "", "default", "")),
        (
            "GET",
            "/api/v1/namespaces/default/pods",
            {"watch": "true"},
            ("watch", "", "pods", "", "default", ""),
        ),
        ("GET", "/api/v1/watch/namespaces/default/pods", {}, ("watch", "", "pods", "", "default", "")),
        ("GET", "/api/v1/namespaces/default/pods/p", {}, ("get", "", "pods", "", "default", "p")),
        ("GET", "/api/v1/namespaces/default/pods/p/log", {}, ("get", "", "pods", "log", "default", "p")),
        (
            "POST",
            "/api/v1/namespaces/default/pods/p/eviction",
            {},
            ("create", "", "pods", "eviction", "default", "p"),
        ),
        (
            "DELETE",
            "/api/v1/namespaces/default/pods",
            {},
            ("deletecollection", "", "pods", "", "default", ""),
        ),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/x/deployments/d/scale",
            {},
            ("patch", "apps", "deployments", "scale", "x", "d"),
        ),
        ("PUT", "/api/v1/nodes/n1/status", {}, ("update", "", "nodes", "status", "", "n1")),
        (
            "GET",
            "/api/v1/namespaces/kube-system",
            {},
            ("get", "", "namespaces", "", "kube-system", "kube-system"),
        ),
        ("PUT", "/api/v1/namespaces/ns/finalize", {}, ("update", "", "namespaces", "finalize", "ns", "ns")),
        ("GET", "/api/v1/nodes", {"fieldSelector": "metadata.name=n1"}, ("list", "", "nodes", "", "", "n1")),
        ("GET", "/api/v1/pods", {}, ("list", "", "pods", "", "", "")),
    ],
)
def test_request_info(method: str, path: str, query: dict[str, str], want: tuple[str, ...]) -> None:
    info = request_info(method, path, query)
    assert info.is_resource_request
    assert (info.verb, info.api_group, info.resource, info.subresource, info.namespace, info.name) == want


@pytest.mark.parametrize(
    "path", ["/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version", "/openapi/v3"]
)
def test_non_resource_paths(path: str) -> None:
    assert request_info("GET", path) == RequestInfo(path=path, verb="get")


def test_policy() -> None:
    authz = Authorizer()
    assert authz.authorize(ADMIN, "delete", "apps", "deployments", "default", "d")
    assert not authz.authorize(JANE, "list", "", "pods", "default", "")
    assert authz.authorize(JANE, "create", "authentication.k8s.io", "selfsubjectreviews", "", "")
    assert authz.authorize(JANE, "get", "", "", "", "", path="/apis/apps/v1")
    assert not authz.authorize(JANE, "post", "", "", "", "", path="/apis")
    assert not authz.authorize(ANON, "get", "", "", "", "", path="/api")
    assert authz.authorize(ANON, "get", "", "", "", "", path="/healthz")
    assert authz.authorize(NODE, "patch", "", "nodes", "", "n1", subresource="status")
    assert authz.authorize(NODE, "watch", "", "pods", "", "")
    assert authz.authorize(NODE, "update", "coordination.k8s.io", "leases", "kube-node-lease", "n1")
    assert not authz.authorize(NODE, "delete", "", "nodes", "", "n1")
    assert not authz.authorize(NODE, "create", "", "secrets", "default", "")


def test_forbidden_messages() -> None:
    def msg(method: str, path: str) -> str:
        return forbidden_message(JANE, request_info(method, path))

    assert msg("GET", "/api/v1/namespaces/default/pods") == (
        'pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"'
    )
    assert msg("GET", "/api/v1/nodes/n1") == (
        'nodes "n1" is forbidden: User "jane" cannot get resource "nodes" in API group "" at the cluster scope'
    )
    assert msg("GET", "/apis/apps/v1/namespaces/x/deployments/d/scale") == (
        'deployments.apps "d" is forbidden: User "jane" cannot get resource "deployments/scale" '
        'in API group "apps" in the namespace "x"'
    )
    assert msg("POST", "/logs") == 'forbidden: User "jane" cannot post path "/logs"'
