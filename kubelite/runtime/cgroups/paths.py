"""Naming: the OCI cgroupsPath, and where a process sits according to /proc.

Only the cgroupfs form of ``linux.cgroupsPath`` is accepted ("/a/b", or "b"
which lands under /kubelite, like runc puts relative paths under its own
parent). The systemd driver's "slice:prefix:name" form is refused instead of
being misread as a directory name. ".." is refused outright, so a spec can
never point the runtime at a cgroup outside the hierarchy it names.
"""

from pathlib import Path

from kubelite.errors import Invalid, NotFound

DEFAULT_PARENT = "/kubelite"


def normalize(path: str) -> str:
    """The absolute cgroup path for an OCI cgroupsPath."""
    if not isinstance(path, str) or not path.strip("/ "):
        raise Invalid(f"invalid cgroupsPath {path!r}: must name a cgroup below the root")
    if ":" in path:
        raise Invalid(f"invalid cgroupsPath {path!r}: the systemd form slice:prefix:name is not supported")
    if not path.startswith("/"):
        path = f"{DEFAULT_PARENT}/{path}"
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts or any("\0" in p or "\n" in p for p in parts):
        raise Invalid(f"invalid cgroupsPath {path!r}: '..' and control characters are not allowed")
    return "/" + "/".join(parts)


def proc_cgroups(pid: int | str = "self") -> dict[str, str]:
    """/proc/PID/cgroup as {controller: path}; v2's unified line is under "", name=systemd as "name=systemd"."""
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except (FileNotFoundError, ProcessLookupError):
        raise NotFound(f"no such process: {pid}") from None
    out: dict[str, str] = {}
    for line in text.splitlines():
        _, controllers, cg_path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            out[c] = cg_path
    return out


def ns_path(pid: int | str, controller: str | None = None) -> str:
    """The cgroup path of PID as its cgroup namespace sees it.

    Pure v2 has one answer (the "0::" line). On v1/hybrid the paths can differ
    per controller; CONTROLLER picks one, else the first of memory, pids, cpu
    and freezer that the process has (the ones kubelite always joins).
    """
    lines = proc_cgroups(pid)
    if controller is not None:
        if controller not in lines:
            raise NotFound(f"process {pid} has no {controller!r} cgroup")
        return lines[controller]
    for c in ("memory", "pids", "cpu", "freezer"):
        if c in lines:
            return lines[c]
    return lines.get("", "/")
