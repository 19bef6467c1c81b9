"""410 Expired: a watch or a continue token from a compacted revision, on a store that compacts eagerly."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.api.conftest import DATASTORES, Cluster, datastore_url, start_cluster, stop_cluster


@pytest.fixture(scope="module", params=DATASTORES)
def eager(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    data = tmp_path_factory.mktemp(f"expiry-{request.param}") / "data"
    url = datastore_url(request.param, data, request, retention=0, keep=1, compact_interval=0.2)
    c = start_cluster(data, ("--datastore", url))
    try:
        yield c
    finally:
        stop_cluster(c)


def test_watch_from_compacted_revision_is_expired(eager: Cluster) -> None:
    api = config.new_client_from_config(config_file=str(eager.kubeconfig))
    v1 = client.CoreV1Api(api)
    for i in range(5):
        v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"e{i}")))
    time.sleep(1.0)
    with pytest.raises(ApiException) as e:
        for _ in watch.Watch().stream(v1.list_namespaced_config_map, "default", resource_version="2",
                                      timeout_seconds=3):
            pass
    assert e.value.status == 410
    raw = eager.kubectl("get", "--raw", "/api/v1/namespaces/default/configmaps?limit=2")
    token = json.loads(raw.stdout)["metadata"]["continue"]
    for i in range(5, 8):
        v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"e{i}")))
    time.sleep(1.0)
    with pytest.raises(ApiException) as e:
        v1.list_namespaced_config_map("default", limit=2, _continue=token)
    assert e.value.status == 410
    api.close()
