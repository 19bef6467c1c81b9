"""`kubelite up`: a single-node cluster in the foreground until SIGTERM or SIGINT.

The main job. Today it is the control plane on embedded SQLite (the same
:class:`~kubelite.api.server.APIServer` as `kubelite server`) plus a banner
that tells the user how to point kubectl at it; the embedded node agent
plugs in at :func:`start_embedded` (see there), so this module keeps the one
start/stop order: server up, then what runs beside it, and on a signal the
reverse, the server last so the agent can still report while it stops.
Signals are handled by the event loop (never a KeyboardInterrupt traceback).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubelite.cli import eventloop
from kubelite.cli.main import load_site_packages

if TYPE_CHECKING:
    from kubelite.api.server import APIServer

Stop = Callable[[], Awaitable[None]]
log = logging.getLogger("kubelite.up")


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kubelite up", description="Run a single-node kubelite cluster.")
    p.add_argument("--data-dir", default="/var/lib/kubelite", help="state, PKI and kubeconfig.yaml live here")
    p.add_argument("--port", type=int, default=6443, help="the API server's HTTPS port")
    p.add_argument("--node-name", default=None, help="the node's name (default: the host name)")
    from kubelite.cli.server import add_control_plane_flags

    add_control_plane_flags(p)
    return p.parse_args(argv)


async def start_embedded(server: APIServer, node_name: str | None = None) -> list[Stop]:
    """The node agent in this process, as node ``node_name`` (the host name by default), with its own
    node token and the cluster CA from the data dir; returns how to stop it (its pods keep running)."""
    import socket

    from kubelite.agent.agent import Agent, AgentConfig
    from kubelite.api.security.tokens import TokenFile

    data_dir = server.config.data_dir
    name = (node_name or socket.gethostname()).lower()
    if not server.config.secure:
        client = server.local_client("kubelet")
        ca = b""
    else:
        token = TokenFile.in_data_dir(data_dir).ensure_node_token(name)  # made before the server started
        client = server.local_client("kubelet", token)
        ca = (data_dir / "pki" / "ca.crt").read_bytes()
    host = server.config.bind_address
    agent = Agent(client, AgentConfig(node_name=name, data_dir=data_dir / "agent", ca_pem=ca,
                                      node_ip="127.0.0.1" if host in ("", "0.0.0.0", "127.0.0.1") else host,
                                      port=10250 if server.config.port == 6443 else 0))
    try:
        await agent.start()
    except BaseException:
        await agent.stop()
        await client.close()
        raise

    async def stop() -> None:
        await agent.stop()
        await client.close()

    return [stop]


def banner(server: APIServer) -> str:
    kubeconfig = server.config.data_dir.resolve() / "kubeconfig.yaml"
    return (f"kubelite is up: API server on {server.url}, data in {server.config.data_dir.resolve()}\n"
            f"Use it with kubectl:\n\n"
            f"    export KUBECONFIG={kubeconfig}\n"
            f"    kubectl get namespaces\n"
            f"    kubectl apply -f app.yaml\n\n"
            f"Ctrl-C or SIGTERM stops the cluster; its state stays in the data dir and running pods keep\n"
            f"running, to be adopted again by the next `kubelite up`.\n")


async def run(data_dir: Path, port: int, ready: Callable[[APIServer], None] | None = None,
              node_name: str | None = None, options: object | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then stop cleanly; ``ready`` is called once everything is up."""
    from kubelite.api.server import ServerConfig

    await serve(ServerConfig(data_dir=data_dir, port=port, datastore="sqlite"), agent=True, ready=ready,
                node_name=node_name, options=options)


async def serve(config: Any, *, agent: bool, ready: Callable[[APIServer], None] | None = None,
                node_name: str | None = None, options: object | None = None,
                controllers: set[str] | None = None, scheduler: bool = True) -> None:
    """The API server, the control plane beside it and (``agent``) an embedded node agent, until a signal."""
    from kubelite import gcpolicy
    from kubelite.api.server import APIServer
    from kubelite.cli.controlplane import start_control_plane

    gcpolicy.for_long_running_process()
    server = APIServer(config)
    if config.secure:
        # The server reads its tokens when it starts: make the agents' tokens first.
        import socket

        from kubelite.api.security.tokens import TokenFile

        config.data_dir.mkdir(parents=True, exist_ok=True)
        tokens = TokenFile.in_data_dir(config.data_dir)
        tokens.ensure_node_token()
        if agent:
            tokens.ensure_node_token((node_name or socket.gethostname()).lower())
    from kubelite.cli.signals import stop_signals

    stops: list[Stop] = []
    try:
        async with stop_signals() as stopping:
            await server.start()
            stops = await start_control_plane(server, options=options, controllers=controllers,
                                              scheduler=scheduler)
            if agent:
                stops += await start_embedded(server, node_name)
            if ready is not None:
                ready(server)
            await stopping.wait()
    finally:
        # Every part is stopped, whatever another's stop raised: one left running (its tasks cancelled only
        # when the loop closes) can wait forever on a server that no longer answers.
        for stop in reversed(stops):
            try:
                await stop()
            except Exception:
                log.exception("stopping %s failed", getattr(stop, "__qualname__", stop))
        await server.stop()

def main(argv: list[str]) -> int:
    args = parse(argv[1:] if argv and argv[0] == "up" else argv)
    load_site_packages()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)

    def ready(server: APIServer) -> None:
        print(banner(server), flush=True)

    from kubelite.cli.server import control_plane_options

    eventloop.run(run(Path(args.data_dir), args.port, ready, args.node_name, control_plane_options(args)))
    print("kubelite: stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
