"""`kubelite`: the command-line entry point.

Parsing and printing only: each subcommand lives in its own module, imported
only when used, so a one-shot command such as `kubelite oci start` pays for
little more than the interpreter. Every error a user can cause ends here as one
line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def die(msg: str, code: int = 1) -> NoReturn:
    print(f"kubelite: {msg}", file=sys.stderr)
    raise SystemExit(code)


COMMANDS = {
    # docker-like
    "run": "docker", "create": "docker", "start": "docker", "ps": "docker", "logs": "docker",
    "exec": "docker", "stop": "docker", "kill": "docker", "rm": "docker", "inspect": "docker",
    "wait": "docker", "stats": "docker",
    # images
    "image": "images", "images": "images", "rmi": "images", "tag": "images",
    # runc-compatible
    "oci": "oci",
    # cluster
    "up": "up", "server": "server", "agent": "agent",
}

USAGE = """usage: kubelite COMMAND [ARGS...]

Cluster:
  up [--data-dir /var/lib/kubelite] [--port 6443]      a single-node cluster in the foreground
  server [--data-dir DIR] [--bind-address A] [--port P] [--datastore sqlite|etcd://H:P,...]
  agent --server URL --token TOKEN [--node-name N] [--data-dir DIR] [--node-ip IP] [--port 10250]
Containers:
  run [--rm] [-d] [--name N] [-e K=V] [-m 64m] [--cpus 0.5] [--pids-limit N]
      [-v HOST:CTR[:ro]] [-w DIR] [-u UID[:GID]] [--hostname H] [-i] [-t] IMAGE [COMMAND...]
  ps [-a]  logs [-f] NAME  exec [-i] [-t] NAME CMD...  stop [-t S] NAME
  kill [-s SIG] NAME  rm [-f] NAME  inspect NAME  wait NAME  stats NAME
Images:
  images  image import FILE  image export NAME FILE  rmi NAME  tag SRC DST
OCI runtime (runc-compatible):
  oci [--root DIR] create|start|state|kill|delete|run|exec|list|spec ...
"""


def load_site_packages() -> None:
    """The fast launcher runs without site; a command that needs third-party packages calls this first."""
    if not sys.flags.no_site:
        return
    import site

    site.main()


def main(argv: list[str] | None = None) -> None:
    sys.dont_write_bytecode = False  # cache what we import, whatever the environment says
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return
    if argv[0] in ("-v", "--version", "version"):
        from kubelite import __version__

        print(f"kubelite version {__version__}")
        return
    cmd = argv[0]
    module = COMMANDS.get(cmd)
    if module is None:
        die(f"unknown command {cmd!r} (see 'kubelite --help')", 2)
    if os.geteuid() != 0 and cmd != "server":  # the control plane needs no privileges, only its data dir
        die(f"'kubelite {cmd}' needs root (namespaces, cgroups, mounts): run it as root")
    from importlib import import_module

    from kubelite.errors import KubeliteError

    mod = import_module(f"kubelite.cli.{module}")
    try:
        code = mod.main(argv)
    except KubeliteError as e:
        die(str(e), e.exit_code)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except BrokenPipeError:
        raise SystemExit(141) from None
    except OSError as e:
        die(f"{e.strerror or e}" + (f": {e.filename}" if e.filename else ""))
    except Exception as e:  # noqa: BLE001 - a bug still gets one line; KUBELITE_DEBUG=1 shows the trace
        if os.environ.get("KUBELITE_DEBUG"):
            raise
        die(f"internal error: {type(e).__name__}: {e}")
    raise SystemExit(code or 0)


if __name__ == "__main__":
    main()
