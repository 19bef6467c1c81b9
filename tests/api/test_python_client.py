"""The official ``kubernetes`` Python client against a kubelite server: typed and dynamic clients."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, dynamic, watch
from kubernetes.client.rest import ApiException

from tests.api.conftest import Cluster


@pytest.fixture(scope="module")
def api(cluster: Cluster) -> Iterator[client.ApiClient]:
    c = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield c
    c.close()


def test_configmap_crud(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py1", labels={"src": "py"}), data={"a": "1"})
    made = v1.create_namespaced_config_map("default", body)
    assert made.metadata.uid and made.metadata.resource_version
    listed = v1.list_namespaced_config_map("default", label_selector="src=py")
    assert [i.metadata.name for i in listed.items] == ["py1"]
    assert v1.list_namespaced_config_map("default", label_selector="src!=py", field_selector="metadata.name=py1").items == []
    patched = v1.patch_namespaced_config_map("py1", "default", {"data": {"b": "2"}})
    assert patched.data == {"a": "1", "b": "2"}
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_config_map("default", body)
    assert e.value.status == 409
    v1.delete_namespaced_config_map("py1", "default")
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_config_map("py1", "default")
    assert e.value.status == 404


def test_pagination(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pages")))
    for i in range(7):
        v1.create_namespaced_config_map("pages", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"c{i}")))
    names, token = [], None
    while True:
        page = v1.list_namespaced_config_map("pages", limit=3, _continue=token)
        names += [i.metadata.name for i in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert names == [f"c{i}" for i in range(7)]


def test_watch_events(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    rv = v1.list_namespaced_config_map("default").metadata.resource_version
    seen: list[tuple[str, str]] = []
    w = watch.Watch()

    def consume() -> None:
        for ev in w.stream(v1.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=10,
                           label_selector="w=py"):
            seen.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    meta = client.V1ObjectMeta(name="pw", labels={"w": "py"})
    v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=meta))
    v1.patch_namespaced_config_map("pw", "default", {"data": {"x": "y"}})
    v1.delete_namespaced_config_map("pw", "default")
    t.join(timeout=15)
    assert not t.is_alive()
    assert seen == [("ADDED", "pw"), ("MODIFIED", "pw"), ("DELETED", "pw")]


def test_dynamic_client_deployment(api: client.ApiClient) -> None:
    dyn = dynamic.DynamicClient(api)
    deployments: Any = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "dyn"},
            "spec": {"selector": {"matchLabels": {"app": "dyn"}},
                     "template": {"metadata": {"labels": {"app": "dyn"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    made = deployments.create(body=body, namespace="default")
    assert made.spec.replicas == 1
    got = deployments.get(name="dyn", namespace="default")
    assert got.metadata.uid == made.metadata.uid
    deployments.patch(name="dyn", namespace="default", body={"spec": {"replicas": 2}},
                      content_type="application/merge-patch+json")
    assert deployments.get(name="dyn", namespace="default").spec.replicas == 2
    deployments.delete(name="dyn", namespace="default")
