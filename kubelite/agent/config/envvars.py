"""A container's environment, command and args, resolved exactly as the kubelet does.

Order and precedence: every ``envFrom`` source in turn (its keys with
``prefix``), then every ``env`` entry; a later definition of a name replaces the
value but keeps the name's first position (the kubelet builds a map, so its
order is unspecified; first-seen order is deterministic and keeps images'
expectations stable). Service links come last and never override.

``$(VAR)`` in an ``env[].value`` expands against what is defined so far (envFrom
and earlier env entries), then the service variables. Values from ``valueFrom``
are never expanded. ``optional: true`` turns a missing ConfigMap, Secret or key
into "variable not set"; otherwise the container cannot start and ``ConfigError``
carries the kubelet's message for ``CreateContainerConfigError``. Keys of an
``envFrom`` source that are not valid variable names are skipped and reported
as a warning (the kubelet's ``InvalidEnvironmentVariableNames`` event).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from kubelite.agent.config.errors import ConfigError, config_error
from kubelite.agent.config.expansion import expand, mapping_for
from kubelite.agent.config.fieldpath import FieldError, host_allocatable, pod_field, resource_value
from kubelite.agent.config.lookup import ObjectLookup

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
Warning_ = tuple[str, str]  # (event reason, message)


def valid_env_name(name: str) -> bool:
    return bool(_ENV_NAME.match(name)) and name not in (".", "..") and not name.startswith("..")


def decode_secret_value(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise config_error(f"secret data is not valid base64: {value[:16]!r}...") from None


def secret_text(value: str) -> str:
    # Environment values are C strings of bytes; bytes that are not UTF-8 cannot travel through the JSON spec.
    return decode_secret_value(value).decode("utf-8", errors="replace")


class _Objects:
    """One call's cache of ConfigMaps and Secrets, so a pod that names one object ten times fetches it once."""

    def __init__(self, lookup: ObjectLookup, namespace: str) -> None:
        self.lookup, self.ns = lookup, namespace
        self.cache: dict[tuple[str, str], dict[str, Any] | None] = {}

    async def get(self, kind: str, name: str) -> dict[str, Any] | None:
        if (kind, name) not in self.cache:
            fetch = self.lookup.configmap if kind == "configmap" else self.lookup.secret
            self.cache[(kind, name)] = await fetch(self.ns, name)
        return self.cache[(kind, name)]


async def container_env(pod: dict[str, Any], container: dict[str, Any], lookup: ObjectLookup,
                        node_ip: str = "", service_env: dict[str, str] | None = None, *,
                        pod_ips: list[str] | None = None, node_allocatable: Mapping[str, str] | None = None,
                        warnings: list[Warning_] | None = None) -> list[tuple[str, str]]:
    """The container's environment as (name, value) pairs, in the order they should be set.

    ``pod_ips`` overrides the pod's ``status.podIPs`` (the agent knows them before the status is written);
    ``node_allocatable`` ({"cpu": "2", "memory": "4Gi", ...}) is what a limitless container reports;
    ``warnings`` receives (reason, message) pairs for events.
    """
    try:
        return await _resolve(pod, container, lookup, node_ip, service_env or {}, pod_ips, node_allocatable, warnings)
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        # The API validates pods; this is for hand-made ones, which get an error instead of a traceback.
        raise config_error(f"invalid container environment: {e}") from None


async def _resolve(pod: dict[str, Any], container: dict[str, Any], lookup: ObjectLookup, node_ip: str,
                   services: dict[str, str], pod_ips: list[str] | None, node_allocatable: Mapping[str, str] | None,
                   warnings: list[Warning_] | None) -> list[tuple[str, str]]:
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    objects = _Objects(lookup, ns)
    env: dict[str, str] = {}
    expand_ref = mapping_for(env, services)

    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        kind = "configmap" if source.get("configMapRef") else "secret" if source.get("secretRef") else ""
        if not kind:
            continue
        ref = source["configMapRef" if kind == "configmap" else "secretRef"]
        name = ref.get("name", "")
        obj = await objects.get(kind, name)
        if obj is None:
            if ref.get("optional"):
                continue
            raise config_error(f'{kind} "{name}" not found')
        invalid = []
        for key, raw in (obj.get("data") or {}).items():
            var = prefix + key
            if not valid_env_name(var):
                invalid.append(var)
                continue
            env[var] = raw if kind == "configmap" else secret_text(raw)
        if invalid and warnings is not None:
            what = "configMap" if kind == "configmap" else "secret"
            warnings.append(("InvalidEnvironmentVariableNames",
                             f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {what} {ns}/{name} were skipped "
                             "since they are considered invalid environment variable names."))

    for var in container.get("env") or []:
        name = var.get("name", "")
        value: str | None = var.get("value") or ""
        source = var.get("valueFrom")
        if value:
            value = expand(value, expand_ref)
        elif source:
            value = await _value_from(source, pod, container, objects, ns, node_ip, pod_ips, node_allocatable)
            if value is None:  # an optional source that is missing: the variable is not set at all
                continue
        env[name] = value or ""

    for k, v in services.items():
        env.setdefault(k, v)
    return list(env.items())


async def _value_from(source: Mapping[str, Any], pod: dict[str, Any], container: dict[str, Any],
                      objects: _Objects, ns: str, node_ip: str, pod_ips: list[str] | None,
                      allocatable: Mapping[str, str] | None) -> str | None:
    try:
        if source.get("fieldRef"):
            ref = source["fieldRef"]
            return pod_field(pod, ref.get("fieldPath", ""), ref.get("apiVersion") or "v1", node_ip, pod_ips)
        if source.get("resourceFieldRef"):
            return resource_value(source["resourceFieldRef"], pod, container,
                                  allocatable if allocatable is not None else host_allocatable())
    except FieldError as e:
        raise config_error(str(e)) from None
    for field, kind, title in (("configMapKeyRef", "configmap", "ConfigMap"), ("secretKeyRef", "secret", "Secret")):
        ref = source.get(field)
        if not ref:
            continue
        name, key, optional = ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional"))
        obj = await objects.get(kind, name)
        if obj is None:
            if optional:
                return None
            raise config_error(f'{kind} "{name}" not found')
        data = obj.get("data") or {}
        if key not in data:
            if optional:
                return None
            raise config_error(f"couldn't find key {key} in {title} {ns}/{name}")
        return str(data[key]) if kind == "configmap" else secret_text(data[key])
    return ""


def command_args(container: Mapping[str, Any], env: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """``command`` and ``args`` with ``$(VAR)`` expanded against the container's final environment."""
    mapping = mapping_for(dict(env))
    return ([expand(c, mapping) for c in container.get("command") or []],
            [expand(a, mapping) for a in container.get("args") or []])


def subpath_expr(expr: str, env: list[tuple[str, str]]) -> str:
    """A volumeMount's ``subPathExpr``: every reference must name a non-empty variable."""
    known = dict(env)
    missing: set[str] = set()

    def lookup(name: str) -> str:
        if not known.get(name):
            missing.add(name)
        return known.get(name, "")

    out = expand(expr, lookup)
    if missing:
        raise config_error(f"missing value for {', '.join(sorted(missing))}")
    return out


__all__ = ["ConfigError", "command_args", "container_env", "subpath_expr", "valid_env_name"]
