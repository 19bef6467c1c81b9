"""`kubelite server`: the control plane in the foreground until SIGTERM or SIGINT.

Parsing only; :mod:`kubelite.api.server` does the work. The fast launcher runs
without site-packages, so third-party imports come after
``load_site_packages()``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from kubelite.cli import eventloop
from kubelite.cli.main import load_site_packages


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kubelite server", description="Run the kubelite control plane.")
    p.add_argument("--data-dir", default="/var/lib/kubelite", help="state, PKI and kubeconfig.yaml live here")
    p.add_argument("--bind-address", default="0.0.0.0")
    p.add_argument("--port", type=int, default=6443)
    p.add_argument("--datastore", default="sqlite", help="sqlite (in the data dir), sqlite:///path or etcd://h:p,...")
    p.add_argument("--insecure", action="store_true", help="plain HTTP without authentication (development only)")
    add_control_plane_flags(p)
    return p.parse_args(argv)


def add_control_plane_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--controllers", default="*", metavar="LIST",
                   help="controllers to run, as kube-controller-manager's flag: '*' (all), names, '-name' "
                        "to leave one out; empty for none")
    p.add_argument("--no-scheduler", action="store_true", help="do not run the scheduler in this process")
    p.add_argument("--node-monitor-grace-period", type=float, default=40.0, metavar="SECONDS",
                   help="a node whose heartbeats stop for this long becomes NotReady (default 40)")
    p.add_argument("--default-toleration-seconds", type=int, default=300, metavar="SECONDS",
                   help="how long pods tolerate a not-ready or unreachable node before eviction (default 300)")
    p.add_argument("--terminated-pod-gc-threshold", type=int, default=12500, metavar="N",
                   help="terminated pods that may exist before the pod garbage collector deletes the oldest; "
                        "0 or less disables it (default 12500)")


def controller_names(spec: str) -> set[str] | None:
    """kube-controller-manager's --controllers: None means all."""
    from kubelite.controllers.registry import CONTROLLERS

    items = [x.strip() for x in spec.split(",") if x.strip()]
    if "*" in items:
        return None if not any(x.startswith("-") for x in items) else \
            set(CONTROLLERS) - {x[1:] for x in items if x.startswith("-")}
    return {x for x in items if not x.startswith("-")}


def control_plane_options(args: argparse.Namespace) -> object:
    from kubelite.api.registry import pods
    from kubelite.controllers.options import ControllerOptions

    pods.DEFAULT_TOLERATION_SECONDS = args.default_toleration_seconds
    return ControllerOptions(node_monitor_grace_period=args.node_monitor_grace_period,
                             default_toleration_seconds=args.default_toleration_seconds,
                             terminated_pod_gc_threshold=args.terminated_pod_gc_threshold)


def main(argv: list[str]) -> int:
    args = parse(argv[1:] if argv and argv[0] == "server" else argv)
    load_site_packages()
    from kubelite.api.server import ServerConfig
    from kubelite.cli.up import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    cfg = ServerConfig(data_dir=Path(args.data_dir), bind_address=args.bind_address, port=args.port,
                       datastore=args.datastore, secure=not args.insecure)
    eventloop.run(serve(cfg, agent=False, options=control_plane_options(args),
                        controllers=controller_names(args.controllers), scheduler=not args.no_scheduler))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
