"""A container's environment as the kubelet builds it: order, precedence, $(VAR), valueFrom, errors.

The lookup is a dict of ConfigMaps and Secrets, the same shape the API serves
(secret data base64): an input to a pure function, not a stand-in for a server.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from kubelite.agent.config import ConfigError, command_args, container_env, subpath_expr


class DictLookup:
    def __init__(self, configmaps: dict[str, dict[str, Any]] | None = None,
                 secrets: dict[str, dict[str, str]] | None = None) -> None:
        self.configmaps = configmaps or {}
        self.secrets = {k: {kk: base64.b64encode(v.encode()).decode() for kk, v in d.items()}
                        for k, d in (secrets or {}).items()}
        self.calls = 0

    async def configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls += 1
        data = self.configmaps.get(f"{namespace}/{name}")
        return None if data is None else {"metadata": {"name": name, "namespace": namespace}, "data": data}

    async def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls += 1
        data = self.secrets.get(f"{namespace}/{name}")
        return None if data is None else {"metadata": {"name": name, "namespace": namespace}, "data": data}


def pod(**containers: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-1", "namespace": "prod", "uid": "1234-abcd",
                     "labels": {"app": "web", "tier": "front"},
                     "annotations": {"note": 'say "hi"\n', "example.com/owner": "ops"}},
        "spec": {"nodeName": "node-a", "serviceAccountName": "builder",
                 "containers": [{"name": "main", **containers}]},
        "status": {"podIP": "10.0.0.7", "podIPs": [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}],
                   "hostIP": "192.168.1.2"},
    }


def env_of(p: dict[str, Any], lookup: DictLookup | None = None, **kw: Any) -> list[tuple[str, str]]:
    return asyncio.run(container_env(p, p["spec"]["containers"][0], lookup or DictLookup(), **kw))


def error_of(p: dict[str, Any], lookup: DictLookup | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        env_of(p, lookup)
    assert info.value.reason == "CreateContainerConfigError"
    return info.value


def test_envfrom_then_env_later_wins_in_first_position() -> None:
    lookup = DictLookup(configmaps={"prod/cfg": {"MODE": "cm", "LEVEL": "3"}},
                        secrets={"prod/creds": {"USER": "admin", "MODE": "secret"}})
    p = pod(envFrom=[{"configMapRef": {"name": "cfg"}},
                     {"secretRef": {"name": "creds"}, "prefix": "DB_"},
                     {"secretRef": {"name": "creds"}}],
            env=[{"name": "LEVEL", "value": "9"}, {"name": "EXTRA", "value": ""}])
    assert env_of(p, lookup) == [("MODE", "secret"), ("LEVEL", "9"), ("DB_USER", "admin"), ("DB_MODE", "secret"),
                                 ("USER", "admin"), ("EXTRA", "")]
    assert lookup.calls == 2  # one fetch per object, however often it is named


def test_expansion_sees_earlier_vars_and_service_env_only() -> None:
    p = pod(envFrom=[{"configMapRef": {"name": "cfg"}}],
            env=[{"name": "A", "value": "alpha"},
                 {"name": "B", "value": "$(A)-$(FROM_CM)-$(LATER)-$(SVC_HOST)-$(NOPE)"},
                 {"name": "ESC", "value": "$$(A) $$ $x $( $(A"},
                 {"name": "LATER", "value": "late"},
                 {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                 {"name": "SVC_PORT", "value": "mine"}])
    lookup = DictLookup(configmaps={"prod/cfg": {"FROM_CM": "cm"}})
    env = dict(env_of(p, lookup, service_env={"SVC_HOST": "10.96.0.1", "SVC_PORT": "443"}))
    assert env["B"] == "alpha-cm-$(LATER)-10.96.0.1-$(NOPE)"
    assert env["ESC"] == "$(A) $ $x $( $(A"
    assert env["SVC_HOST"] == "10.96.0.1"
    assert env["SVC_PORT"] == "mine"  # service links never override the pod's own variables
    assert list(env)[-1] == "SVC_HOST"


def test_value_from_configmap_and_secret_keys() -> None:
    lookup = DictLookup(configmaps={"prod/cfg": {"url": "http://$(A)"}}, secrets={"prod/s": {"pw": "p@ss\n"}})
    p = pod(env=[{"name": "A", "value": "x"},
                 {"name": "URL", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "url"}}},
                 {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}}])
    assert env_of(p, lookup) == [("A", "x"), ("URL", "http://$(A)"), ("PW", "p@ss\n")]  # valueFrom: no expansion


@pytest.mark.parametrize(("ref", "message"), [
    ({"configMapKeyRef": {"name": "nope", "key": "k"}}, 'configmap "nope" not found'),
    ({"configMapKeyRef": {"name": "cfg", "key": "k"}}, "couldn't find key k in ConfigMap prod/cfg"),
    ({"secretKeyRef": {"name": "nope", "key": "k"}}, 'secret "nope" not found'),
    ({"secretKeyRef": {"name": "s", "key": "k"}}, "couldn't find key k in Secret prod/s"),
])
def test_missing_required_source_is_a_config_error(ref: dict[str, Any], message: str) -> None:
    lookup = DictLookup(configmaps={"prod/cfg": {"other": "1"}}, secrets={"prod/s": {"other": "1"}})
    err = error_of(pod(env=[{"name": "V", "valueFrom": ref}]), lookup)
    assert err.message == message and str(err) == message


def test_optional_sources_leave_the_variable_unset() -> None:
    lookup = DictLookup(configmaps={"prod/cfg": {"other": "1"}})
    p = pod(envFrom=[{"configMapRef": {"name": "gone", "optional": True}},
                     {"secretRef": {"name": "gone", "optional": True}}],
            env=[{"name": "V", "value": "keep"},
                 {"name": "V", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k", "optional": True}}},
                 {"name": "W", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": True}}}])
    assert env_of(p, lookup) == [("V", "keep")]


def test_envfrom_missing_required_object() -> None:
    assert error_of(pod(envFrom=[{"secretRef": {"name": "creds"}}])).message == 'secret "creds" not found'
    assert error_of(pod(envFrom=[{"configMapRef": {"name": "c"}}])).message == 'configmap "c" not found'


def test_envfrom_invalid_keys_are_skipped_with_a_warning() -> None:
    lookup = DictLookup(configmaps={"prod/cfg": {"1badkey": "x", "good.key": "g", "2alsobad": "y", "ok": "o"}})
    warnings: list[tuple[str, str]] = []
    p = pod(envFrom=[{"configMapRef": {"name": "cfg"}}, {"configMapRef": {"name": "cfg"}, "prefix": "P_"}])
    env = asyncio.run(container_env(p, p["spec"]["containers"][0], lookup, warnings=warnings))
    assert dict(env) == {"good.key": "g", "ok": "o", "P_1badkey": "x", "P_good.key": "g", "P_2alsobad": "y",
                         "P_ok": "o"}
    assert warnings == [("InvalidEnvironmentVariableNames",
                         "Keys [1badkey, 2alsobad] from the EnvFrom configMap prod/cfg were skipped since they are "
                         "considered invalid environment variable names.")]


def test_field_refs() -> None:
    fields = {
        "N": "metadata.name", "NS": "metadata.namespace", "UID": "metadata.uid", "APP": "metadata.labels['app']",
        "MISSING": "metadata.labels['none']", "OWNER": "metadata.annotations['example.com/owner']",
        "NODE": "spec.nodeName", "SA": "spec.serviceAccountName", "HOST": "status.hostIP",
        "IP": "status.podIP", "IPS": "status.podIPs", "LABELS": "metadata.labels",
        "ANN": "metadata.annotations",
    }
    p = pod(env=[{"name": k, "valueFrom": {"fieldRef": {"fieldPath": v}}} for k, v in fields.items()])
    env = dict(env_of(p))
    assert env == {"N": "web-1", "NS": "prod", "UID": "1234-abcd", "APP": "web", "MISSING": "", "OWNER": "ops",
                   "NODE": "node-a", "SA": "builder", "HOST": "192.168.1.2", "IP": "10.0.0.7",
                   "IPS": "10.0.0.7,fd00::7", "LABELS": 'app="web"\ntier="front"\n',
                   "ANN": 'example.com/owner="ops"\nnote="say \\"hi\\"\\n"\n'}
    # What the agent knows beats a status not yet written.
    env = dict(env_of(p, node_ip="192.168.9.9", pod_ips=["10.1.1.1"]))
    assert env["HOST"] == "192.168.9.9" and env["IP"] == "10.1.1.1" and env["IPS"] == "10.1.1.1"


def test_host_ips_from_status_when_the_agent_gives_none() -> None:
    p = pod(env=[{"name": "H", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIPs"}}}])
    p["status"]["hostIPs"] = [{"ip": "192.168.1.2"}, {"ip": "fd00::2"}]
    assert env_of(p) == [("H", "192.168.1.2,fd00::2")]


@pytest.mark.parametrize(("path", "message"), [
    ("spec.hostname", "unsupported fieldPath: spec.hostname"),
    ("metadata.name['x']", "fieldPath \"metadata.name['x']\" does not support subscript"),
])
def test_bad_field_ref(path: str, message: str) -> None:
    assert error_of(pod(env=[{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": path}}}])).message == message


def test_field_ref_api_version() -> None:
    ref = {"fieldPath": "metadata.name", "apiVersion": "v2"}
    assert error_of(pod(env=[{"name": "X", "valueFrom": {"fieldRef": ref}}])).message == "unsupported pod version: v2"


def test_resource_field_refs_with_divisors_and_node_defaults() -> None:
    refs = {
        "CPU_LIMIT": {"resource": "limits.cpu"},
        "CPU_LIMIT_M": {"resource": "limits.cpu", "divisor": "1m"},
        "CPU_REQ_M": {"resource": "requests.cpu", "divisor": "1m"},
        "MEM_LIMIT_MI": {"resource": "limits.memory", "divisor": "1Mi"},
        "MEM_LIMIT": {"resource": "limits.memory"},
        "MEM_REQ": {"resource": "requests.memory", "divisor": "1Mi"},  # defaulted from the limit
        "EPH_LIMIT": {"resource": "limits.ephemeral-storage", "divisor": "1Gi"},  # no limit: node allocatable
        "EPH_REQ": {"resource": "requests.ephemeral-storage"},  # no request, no limit: 0
        "SIDE_CPU": {"resource": "limits.cpu", "containerName": "side"},  # no limit: node allocatable
        "SIDE_MEM_K": {"resource": "limits.memory", "divisor": "1k", "containerName": "side"},
    }
    p = pod(resources={"limits": {"cpu": "500m", "memory": "100Mi"}, "requests": {"cpu": "0.25"}},
            env=[{"name": k, "valueFrom": {"resourceFieldRef": v}} for k, v in refs.items()])
    p["spec"]["containers"].append({"name": "side", "resources": {"limits": {"memory": "1500"}}})
    alloc = {"cpu": "3", "memory": "8Gi", "ephemeral-storage": "20Gi"}
    assert dict(env_of(p, node_allocatable=alloc)) == {
        "CPU_LIMIT": "1", "CPU_LIMIT_M": "500", "CPU_REQ_M": "250", "MEM_LIMIT_MI": "100",
        "MEM_LIMIT": str(100 * 2**20), "MEM_REQ": "100", "EPH_LIMIT": "20", "EPH_REQ": "0", "SIDE_CPU": "3",
        "SIDE_MEM_K": "2"}


def test_bad_resource_field_ref() -> None:
    p = pod(env=[{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}}])
    assert error_of(p).message == "unsupported container resource : limits.gpu"
    p = pod(env=[{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "containerName": "z"}}}])
    assert error_of(p).message == "container z not found"


def test_command_and_args_expand_against_the_final_environment() -> None:
    container = {"command": ["/bin/$(PROG)", "$$(PROG)"], "args": ["--level=$(LEVEL)", "$(UNSET)", "$$$(LEVEL)"]}
    assert command_args(container, [("PROG", "srv"), ("LEVEL", "3")]) == (
        ["/bin/srv", "$(PROG)"], ["--level=3", "$(UNSET)", "$3"])
    assert command_args({}, []) == ([], [])


def test_subpath_expr() -> None:
    assert subpath_expr("logs/$(POD)", [("POD", "web-1")]) == "logs/web-1"
    with pytest.raises(ConfigError, match="missing value for A, B"):
        subpath_expr("$(B)/$(A)/$(C)", [("A", ""), ("C", "c")])


def test_malformed_container_gets_an_error_not_a_traceback() -> None:
    err = error_of(pod(env=[{"name": "X", "valueFrom": {"fieldRef": "metadata.name"}}]))
    assert err.message.startswith("invalid container environment: ")
