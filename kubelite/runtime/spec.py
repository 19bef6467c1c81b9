"""OCI runtime-spec bundles: the defaults we generate and the checks we make on load.

The runtime executes any bundle (ours or one `runc spec` wrote), so the
runtime core reads only the spec; the higher layers express everything they
want (image config, CLI flags, later pod specs) by generating a spec here.
Defaults follow what runc and Docker give a container: the same mounts, the
same masked and read-only paths, Docker's capability set.
"""

from __future__ import annotations

import copy
import json
import resource
from pathlib import Path
from typing import Any

from kubelite.errors import Invalid, NotFound

OCI_VERSION = "1.0.2"

DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

MASKED_PATHS = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
]

READONLY_PATHS = [
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
]

DEFAULT_MOUNTS: list[dict[str, Any]] = [
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

NAMESPACES = ["pid", "network", "ipc", "uts", "mount", "cgroup"]


def default_spec(args: list[str] | None = None, terminal: bool = False) -> dict[str, Any]:
    """A fresh spec equivalent to what `runc spec` writes, with Docker's capabilities."""
    caps = list(DEFAULT_CAPS)
    # Docker's 1048576, unless we may not raise our own hard limit that far (no CAP_SYS_RESOURCE).
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = 1048576 if hard == resource.RLIM_INFINITY else min(1048576, hard)
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": terminal,
            "user": {"uid": 0, "gid": 0},
            "args": list(args or ["sh"]),
            "env": [f"PATH={DEFAULT_PATH}", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": list(caps), "permitted": list(caps)},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "kubelite",
        "mounts": copy.deepcopy(DEFAULT_MOUNTS),
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in NAMESPACES],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }


def load_bundle(bundle: Path) -> dict[str, Any]:
    """Read and check BUNDLE/config.json; raise one readable error for anything unusable."""
    config = bundle / "config.json"
    if not bundle.is_dir():
        raise NotFound(f"bundle not found: {bundle}")
    try:
        spec = json.loads(config.read_text())
    except FileNotFoundError:
        raise NotFound(f"no config.json in bundle {bundle}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise Invalid(f"{config}: not valid JSON: {e}") from None
    validate(spec)
    root = Path(spec["root"]["path"])
    rootfs = root if root.is_absolute() else bundle / root
    if not rootfs.is_dir():
        raise NotFound(f"rootfs not found: {rootfs}")
    return dict(spec)


def rootfs_path(spec: dict[str, Any], bundle: Path) -> Path:
    root = Path(spec["root"]["path"])
    return (root if root.is_absolute() else bundle / root).resolve()


def validate(spec: Any) -> None:
    """The checks the runtime relies on later; the spec's many optional fields are checked where used."""
    if not isinstance(spec, dict):
        raise Invalid("config.json: the spec must be a JSON object")
    if not isinstance(spec.get("ociVersion"), str):
        raise Invalid("config.json: ociVersion is required")
    root = spec.get("root")
    if not isinstance(root, dict) or not isinstance(root.get("path"), str) or not root["path"]:
        raise Invalid("config.json: root.path is required")
    proc = spec.get("process")
    if not isinstance(proc, dict):
        raise Invalid("config.json: process is required")
    args = proc.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        raise Invalid("config.json: process.args must be a non-empty list of strings")
    cwd = proc.get("cwd", "/")
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        raise Invalid("config.json: process.cwd must be an absolute path")
    user = proc.get("user", {})
    if not isinstance(user, dict) or not isinstance(user.get("uid", 0), int) or not isinstance(user.get("gid", 0), int):
        raise Invalid("config.json: process.user.uid and gid must be integers")
    for m in spec.get("mounts", []):
        if not isinstance(m, dict) or not isinstance(m.get("destination"), str) or not m["destination"].startswith("/"):
            raise Invalid(f"config.json: mount destination must be an absolute path: {m!r}")
    linux = spec.get("linux", {})
    if not isinstance(linux, dict):
        raise Invalid("config.json: linux must be an object")
    for ns in linux.get("namespaces", []):
        if not isinstance(ns, dict) or ns.get("type") not in (
            "pid", "network", "ipc", "uts", "mount", "cgroup", "user", "time"
        ):
            raise Invalid(f"config.json: unknown namespace {ns!r}")


def namespaces(spec: dict[str, Any]) -> dict[str, str | None]:
    """OCI namespace type -> path to join (None: create a new one)."""
    return {ns["type"]: ns.get("path") or None for ns in spec.get("linux", {}).get("namespaces", [])}


def env_dict(env: list[str]) -> dict[str, str]:
    """A spec's KEY=VALUE list as a dict (a bare KEY is an empty value; later entries win)."""
    out: dict[str, str] = {}
    for e in env:
        k, _, v = e.partition("=")
        out[k] = v
    return out
