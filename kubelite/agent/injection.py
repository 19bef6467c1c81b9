"""What the pod workers need of configuration injection, in one object: env, command, volumes.

It joins the API (ConfigMaps and Secrets are read through the agent's client,
which only the Node authorizer's verbs allow) to the pure rules of
:mod:`kubelite.agent.config` (env resolution, volume layout and the atomic
writer), and converts their errors into the container's
``CreateContainerConfigError``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from kubelite.agent.config.envvars import command_args, container_env
from kubelite.agent.config.volumes import VolumeManager
from kubelite.api.client import APIClient, resource_path
from kubelite.errors import NotFound


class APILookup:
    """ConfigMaps and Secrets by name, straight from the API (None when missing)."""

    def __init__(self, client: APIClient) -> None:
        self.client = client

    async def _get(self, plural: str, ns: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.client.get(resource_path("v1", plural, ns, name))
        except NotFound:
            return None

    async def configmap(self, ns: str, name: str) -> dict[str, Any] | None:
        return await self._get("configmaps", ns, name)

    async def secret(self, ns: str, name: str) -> dict[str, Any] | None:
        return await self._get("secrets", ns, name)


class ConfigInjector:
    def __init__(self, client: APIClient, pods_dir: Path, node_ip: str,
                 allocatable: dict[str, str] | None = None) -> None:
        self.lookup = APILookup(client)
        self.volumes = VolumeManager(pods_dir, allocatable)
        self.node_ip = node_ip
        self.allocatable = allocatable or {}

    async def env(self, pod: dict[str, Any], c: dict[str, Any],
                  warnings: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
        return await container_env(pod, c, self.lookup, node_ip=self.node_ip,
                                   node_allocatable=self.allocatable or None, warnings=warnings)

    def command_args(self, c: dict[str, Any], env: list[tuple[str, str]]) -> tuple[list[str] | None,
                                                                                  list[str] | None]:
        out = command_args(c, env)
        return out[0], out[1]

    def mounts(self, pod: dict[str, Any], c: dict[str, Any], env: list[tuple[str, str]]) -> list[dict[str, Any]]:
        return list(self.volumes.mounts_for(pod, c, env))

    async def setup(self, pod: dict[str, Any]) -> None:
        await self.volumes.setup(pod, self.lookup)

    async def refresh(self, pod: dict[str, Any]) -> bool:
        return bool(await self.volumes.refresh(pod, self.lookup))

    async def teardown(self, uid: str) -> None:
        await asyncio.to_thread(self.volumes.teardown, uid)

    def pod_uids(self) -> list[str]:
        return list(self.volumes.pod_uids())
