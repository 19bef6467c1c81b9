"""From an image and `docker run`-style options to an OCI runtime spec.

Docker's rules, applied in Docker's order: the command replaces the image's
Cmd and keeps its Entrypoint, `-e` overrides the image's Env, `-w` and `-u`
override WorkingDir and User; limits become linux.resources (no swap beyond
the memory limit, as the kubelet sets it), and the spec carries Docker's
capability set and the default seccomp profile.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from kubelite.containers.users import home_of, resolve_user
from kubelite.errors import Invalid
from kubelite.runtime import seccomp
from kubelite.runtime import spec as oci
from kubelite.runtime.capabilities import NAMES as ALL_CAPS
from kubelite.runtime.capabilities import current as current_caps
from kubelite.runtime.cgroups import parse_memory

ENV_NAME = re.compile(r"^[^=\s][^=]*$")


@dataclass
class RunOptions:
    image: str
    command: list[str] = field(default_factory=list)
    name: str | None = None
    env: list[str] = field(default_factory=list)
    memory: str | None = None
    cpus: float | None = None
    cpu_shares: int | None = None
    pids_limit: int | None = None
    volumes: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    entrypoint: str | None = None
    interactive: bool = False
    # docker run -i's StdinOnce, a pod's stdinOnce: the end of the first attach that carried stdin ends the
    # container's stdin (the attacher sends the close; the shim keeps no policy of its own)
    stdin_once: bool = False
    tty: bool = False
    rm: bool = False
    detach: bool = False
    read_only: bool = False
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    # What the node agent needs beyond docker run's flags (Kubernetes' container fields):
    # `command` replaces the image's Entrypoint (and then the image's Cmd is dropped), `command` above is `args`.
    entrypoint_argv: list[str] | None = None
    namespaces: dict[str, str] = field(default_factory=dict)  # kind -> path of a namespace to join
    mounts: list[dict[str, Any]] = field(default_factory=list)  # extra OCI mounts (pod volumes)
    cgroups_path: str | None = None
    no_new_privileges: bool | None = None  # None: Docker's rule (everything but privileged)
    oom_score_adj: int | None = None
    hosts_file: str | None = None  # a pod's shared /etc/hosts, else one is written per container
    hostname_file: str | None = None  # a pod's shared /etc/hostname, likewise

    def check(self) -> None:
        """Everything that can be wrong with the options alone, before anything is made."""
        if self.memory is not None:
            limit = parse_memory(self.memory)
            if limit < 6 * 1024 * 1024:
                raise Invalid("minimum memory limit allowed is 6MB")
        ncpu = os.cpu_count() or 1
        if self.cpus is not None and not 0.01 <= self.cpus <= ncpu:
            raise Invalid(f"range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")
        if self.pids_limit is not None and self.pids_limit == 0:
            raise Invalid("invalid pids limit 0")
        for e in self.env:
            if not ENV_NAME.match(e.split("=", 1)[0]):
                raise Invalid(f"invalid environment variable: {e!r}")
        for v in self.volumes:
            parse_volume(v)
        if self.workdir is not None and not self.workdir.startswith("/"):
            raise Invalid(f"the working directory {self.workdir!r} is invalid, it needs to be an absolute path")


def parse_volume(v: str) -> tuple[str, str, bool]:
    parts = v.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise Invalid(f"invalid volume specification: {v!r} (use HOST:CONTAINER[:ro])")
    host, ctr = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else "rw"
    if mode not in ("ro", "rw"):
        raise Invalid(f"invalid mode {mode!r} in volume {v!r}: use ro or rw")
    if not host.startswith("/") or not ctr.startswith("/"):
        raise Invalid(f"invalid volume specification: {v!r}: both paths must be absolute")
    if not os.path.exists(host):
        raise Invalid(f"volume source does not exist: {host}")
    return host, ctr, mode == "ro"


def merge_env(image_env: list[str], overrides: list[str]) -> list[str]:
    env: dict[str, str] = {}
    for e in image_env:
        k, _, v = e.partition("=")
        env[k] = v
    for e in overrides:
        k, sep, v = e.partition("=")
        if sep:
            env[k] = v
        elif k in os.environ:
            env[k] = os.environ[k]
        else:
            env.pop(k, None)
    return [f"{k}={v}" for k, v in env.items()]


def build_spec(image_config: dict[str, Any], opts: RunOptions, *, cid: str, rootfs: str,
               etc_dir: str) -> dict[str, Any]:
    """The spec for container CID; ETC_DIR receives the hostname and hosts files it bind-mounts."""
    cfg = image_config.get("config") or {}
    entrypoint = cfg.get("Entrypoint") or []
    if opts.entrypoint is not None:
        entrypoint = [opts.entrypoint] if opts.entrypoint else []
    cmd = opts.command or (cfg.get("Cmd") or [] if opts.entrypoint is None else [])
    if opts.entrypoint_argv:
        entrypoint, cmd = list(opts.entrypoint_argv), list(opts.command)
    args = list(entrypoint) + list(cmd)
    if not args:
        raise Invalid("no command specified")
    # An empty -u means "the image's user", as in Docker's config merge.
    user = resolve_user(rootfs, opts.user or cfg.get("User") or "")
    env = merge_env(cfg.get("Env") or [], opts.env)
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, f"PATH={oci.DEFAULT_PATH}")
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={home_of(rootfs, user['uid'])}")
    hostname = opts.hostname or cid[:12]
    # HOSTNAME and TERM are defaults, as in Docker: the image's Env and -e override them.
    if not any(e.startswith("HOSTNAME=") for e in env):
        env.append(f"HOSTNAME={hostname}")
    if opts.tty and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")

    spec = oci.default_spec(args, terminal=opts.tty)
    proc = spec["process"]
    proc["env"] = env
    proc["cwd"] = opts.workdir or cfg.get("WorkingDir") or "/"
    proc["user"] = user
    caps = _capabilities(opts)
    proc["capabilities"] = {"bounding": caps, "effective": list(caps), "permitted": list(caps)}
    proc["noNewPrivileges"] = not opts.privileged if opts.no_new_privileges is None else opts.no_new_privileges
    if opts.oom_score_adj is not None:
        proc["oomScoreAdj"] = opts.oom_score_adj
    if "uts" not in opts.namespaces:
        spec["hostname"] = hostname
    else:  # a joined UTS namespace has its host name already (the pod's)
        spec.pop("hostname", None)
    spec["root"] = {"path": rootfs, "readonly": opts.read_only}

    # A pod's containers share its files; a lone container gets its own, written here. (Fewer new files per
    # container start: on ext4 without a journal each new inode is allocated past every recently freed one.)
    shared = {"hostname": opts.hostname_file, "hosts": opts.hosts_file}
    content = {"hostname": hostname + "\n",
               "hosts": f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"}
    for name in ("hostname", "hosts"):
        source = shared[name]
        if not source:
            os.makedirs(etc_dir, exist_ok=True)
            source = os.path.join(etc_dir, name)
            with open(source, "w") as f:
                f.write(content[name])
        spec["mounts"].append({"destination": f"/etc/{name}", "type": "bind",
                               "source": source, "options": ["rbind", "rprivate"]})
    for v in opts.volumes:
        host, ctr, ro = parse_volume(v)
        spec["mounts"].append({"destination": ctr, "type": "bind", "source": os.path.abspath(host),
                               "options": ["rbind", "rprivate"] + (["ro"] if ro else [])})
    spec["mounts"].extend(opts.mounts)

    linux = spec["linux"]
    linux["cgroupsPath"] = opts.cgroups_path or f"/kubelite/{cid}"
    for ns in linux["namespaces"]:
        if ns["type"] in opts.namespaces:
            ns["path"] = opts.namespaces[ns["type"]]
    # Keep the default spec's device rules (deny all; the runtime appends the standard devices):
    # without them a container with CAP_MKNOD could open any host device. Privileged gets them all.
    resources: dict[str, Any] = {} if opts.privileged else {"devices": linux["resources"]["devices"]}
    if opts.memory is not None:
        limit = parse_memory(opts.memory)
        resources["memory"] = {"limit": limit, "swap": limit}
    cpu: dict[str, Any] = {}
    if opts.cpus is not None:
        cpu["period"] = 100000
        cpu["quota"] = round(opts.cpus * 100000)  # not int(): 0.29 * 100000 is 28999.99...
    if opts.cpu_shares is not None:
        cpu["shares"] = opts.cpu_shares
    if cpu:
        resources["cpu"] = cpu
    if opts.pids_limit is not None:
        resources["pids"] = {"limit": opts.pids_limit}
    linux["resources"] = resources
    if opts.privileged:
        linux["maskedPaths"] = []
        linux["readonlyPaths"] = []
    else:
        linux["seccomp"] = seccomp.default_profile(caps)
    spec["annotations"] = {"org.opencontainers.image.ref.name": opts.image, **opts.labels}
    return spec


def _capabilities(opts: RunOptions) -> list[str]:
    def norm(c: str) -> str:
        c = c.upper()
        return c if c.startswith("CAP_") else "CAP_" + c

    if opts.privileged:
        # Every capability we hold ourselves: a sandboxed host may lack some (CAP_SYS_RESOURCE here).
        return sorted(current_caps()["bounding"])
    caps = set(oci.DEFAULT_CAPS)
    add = {norm(c) for c in opts.cap_add}
    drop = {norm(c) for c in opts.cap_drop}
    if "CAP_ALL" in drop:
        caps = set()
    if "CAP_ALL" in add:
        caps = set(ALL_CAPS)
    for c in add | drop:
        if c != "CAP_ALL" and c not in ALL_CAPS:
            raise Invalid(f"unknown capability: {c!r}")
    caps = (caps | (add - {"CAP_ALL"})) - (drop - {"CAP_ALL"})
    return sorted(caps)
