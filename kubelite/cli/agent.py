"""`kubelite agent`: a node agent (the kubelet) in the foreground until SIGTERM or SIGINT.

It joins with a bearer token (``DATA_DIR/node-token`` of the server). The
cluster CA comes from ``--ca-file`` or, trusting the first answer as kubeadm's
discovery without a pin does, from the ``kube-public/kube-root-ca.crt``
ConfigMap; with ``--ca-cert-hash sha256:HEX`` the CA fetched must match the pin.
Stopping the agent leaves its pods running; the next start re-adopts them.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import socket
import sys
import tempfile
from pathlib import Path

from kubelite.cli import eventloop
from kubelite.cli.main import die, load_site_packages


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kubelite agent", description="Run a kubelite node agent.")
    p.add_argument("--server", required=True, help="the API server's URL, e.g. https://10.0.0.1:6443")
    p.add_argument("--token", required=True, help="the join token (the server's DATA_DIR/node-token)")
    p.add_argument("--node-name", default=None, help="this node's name (default: the host name)")
    p.add_argument("--data-dir", default="/var/lib/kubelite/agent", help="volumes and agent state")
    p.add_argument("--node-ip", default="", help="the address the API server reaches this agent at")
    p.add_argument("--port", type=int, default=10250, help="the agent's HTTPS port (logs, exec, port-forward)")
    p.add_argument("--ca-file", default=None, help="the cluster CA certificate (PEM)")
    p.add_argument("--ca-cert-hash", default=None, help="sha256:HEX pin of the cluster CA certificate (DER)")
    p.add_argument("--node-labels", default="", help="k=v,k2=v2 labels for the Node")
    return p.parse_args(argv)


async def fetch_ca(server: str, token: str, pin: str | None) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from kubelite.api.client import APIClient, resource_path

    client = APIClient.with_token(server, token)
    try:
        cm = await client.get(resource_path("v1", "configmaps", "kube-public", "kube-root-ca.crt"))
    finally:
        await client.close()
    pem = str((cm.get("data") or {}).get("ca.crt", "")).encode()
    if pin:
        der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
        if "sha256:" + hashlib.sha256(der).hexdigest() != pin.lower():
            die("the cluster CA does not match --ca-cert-hash")
    return pem


async def run(args: argparse.Namespace) -> None:
    from kubelite.agent.agent import Agent, AgentConfig
    from kubelite.api.client import APIClient

    if args.ca_file:
        ca = Path(args.ca_file).read_bytes()
    else:
        ca = await fetch_ca(args.server, args.token, args.ca_cert_hash)
    with tempfile.NamedTemporaryFile(prefix="kubelite-ca-", suffix=".crt") as f:
        f.write(ca)
        f.flush()
        client = APIClient.with_token(args.server, args.token, ca_file=f.name, user_agent="kubelet")
    labels = dict(kv.split("=", 1) for kv in args.node_labels.split(",") if "=" in kv)
    name = (args.node_name or socket.gethostname()).lower()
    agent = Agent(client, AgentConfig(node_name=name, data_dir=Path(args.data_dir), node_ip=args.node_ip,
                                      port=args.port, ca_pem=ca, labels=labels))
    from kubelite.cli.signals import stop_signals

    try:
        async with stop_signals() as stopping:
            await agent.start()
            logging.getLogger("kubelite.agent").info("node %s registered with %s", name, args.server)
            await stopping.wait()
    finally:
        await agent.stop()
        await client.close()

def main(argv: list[str]) -> int:
    args = parse(argv[1:] if argv and argv[0] == "agent" else argv)
    load_site_packages()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    from kubelite import gcpolicy

    gcpolicy.for_long_running_process()
    eventloop.run(run(args))
    print("kubelite agent: stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
