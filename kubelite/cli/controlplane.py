"""What runs beside the API server in `kubelite server` and `kubelite up`: controllers, scheduler, publishing.

The controllers and the scheduler use the API like any client, through the
admin kubeconfig the server wrote; each takes its leader Lease before acting,
so two servers on one etcd never both act. Start-up also publishes what node
agents need to join: the cluster CA in the ``kube-root-ca.crt`` ConfigMap of
``kube-system`` and ``kube-public`` (read with the join token) and the join
token itself in ``DATA_DIR/node-token`` (0600), as k3s does.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubelite.api.client import APIClient
    from kubelite.api.server import APIServer

log = logging.getLogger(__name__)
Stop = Callable[[], Awaitable[None]]


async def publish_cluster_info(client: APIClient, data_dir: Path) -> None:
    from kubelite.api.client import resource_path
    from kubelite.api.security.files import write_private
    from kubelite.api.security.tokens import TokenFile
    from kubelite.errors import AlreadyExists

    ca = (data_dir / "pki" / "ca.crt").read_text()
    for ns in ("kube-system", "kube-public"):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": ns},
                "data": {"ca.crt": ca}}
        try:
            await client.create(resource_path("v1", "configmaps", ns), body)
        except AlreadyExists:
            await client.patch(resource_path("v1", "configmaps", ns, "kube-root-ca.crt"), {"data": {"ca.crt": ca}})
    token = TokenFile.in_data_dir(data_dir).ensure_node_token()
    write_private(data_dir / "node-token", (token + "\n").encode())


def identity(data_dir: Path) -> str:
    """This server's name in leader elections: stable across its restarts (so a restarted server takes its
    Lease back at once instead of waiting for it to expire), distinct between servers."""
    import hashlib
    import socket

    return f"{socket.gethostname()}_{hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:8]}"


async def start_control_plane(server: APIServer, *, controllers: set[str] | None = None, scheduler: bool = True,
                              options: object | None = None) -> list[Stop]:
    """Start the controllers (``controllers``: names, None for all) and the scheduler against ``server``,
    each only while it holds its Lease in kube-system (kube-controller-manager, kube-scheduler); the stops,
    in start order."""
    from kubelite.controllers.leaderelection import start_leader_elected

    data_dir = server.config.data_dir
    client = server.local_client("kubelite-controller-manager")
    scheduler_client = server.local_client("kube-scheduler")
    stops: list[Stop] = [client.close, scheduler_client.close]
    me = identity(data_dir)
    try:
        if server.config.secure:
            await publish_cluster_info(client, data_dir)
        if controllers is None or controllers:  # None: all of them
            from kubelite.controllers.manager import start_controllers

            async def run_controllers() -> Stop:
                return await start_controllers(client, options, controllers)  # type: ignore[arg-type]

            stops.append(await start_leader_elected(client, "kube-controller-manager", me, run_controllers))
        if scheduler:
            from kubelite.scheduler.scheduler import start_scheduler

            async def run_scheduler() -> Stop:
                return await start_scheduler(scheduler_client)

            stops.append(await start_leader_elected(scheduler_client, "kube-scheduler", me, run_scheduler))
    except BaseException:
        for stop in reversed(stops):
            with contextlib.suppress(Exception):
                await stop()
        raise
    return stops
