"""Container state on disk, the only thing that links one kubelite command to the next.

A container is a directory under the state root holding ``state.json``
(written once at create, atomically), the exec fifo while it waits for
``start``, and ``exit.json`` once its supervisor has seen it exit. Status is
never stored: it is derived from whether the recorded PID is still the same
process (its start time from /proc/PID/stat guards against PID reuse) and
whether the fifo still exists, so a crash anywhere can never leave a status
that lies.
"""

from __future__ import annotations

import enum
import json
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from kubelite.errors import AlreadyExists, Invalid, NotFound
from kubelite.runtime import jsonbytes
from kubelite.runtime.topdir import ensure_topdir

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class Status(enum.Enum):
    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


def check_id(cid: str) -> None:
    if not ID_RE.match(cid):
        raise Invalid(f"invalid container id {cid!r}: use letters, digits, '_', '.', '-' (at most 128)")


def pid_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat, or None when there is no such (live) process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rindex(b")") + 2:].split()
    if fields[0] == b"Z" or fields[0] == b"X":
        return None
    return int(fields[19])


def shallow_fields(obj: Any, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """A dataclass's fields as a dict, values as they are: what ``dataclasses.asdict`` gives for fields of
    plain JSON data, without its deep copy (a container's state holds its seccomp profile: ~600 objects,
    copied one by one in Python, milliseconds on every save)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj) if f.name not in drop}


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(jsonbytes.dumps(data))
    os.replace(tmp, path)


@dataclass
class ContainerState:
    id: str
    bundle: str
    rootfs: str
    pid: int = 0
    pid_start: int = 0
    created: str = ""
    cgroup_path: str = ""
    cgroup_version: str = "v1"
    annotations: dict[str, str] = field(default_factory=dict)
    shim_pid: int = 0
    started: str = ""
    # the spec's process, kept so exec can reuse the container's user, caps and seccomp
    process: dict[str, Any] = field(default_factory=dict)
    seccomp: dict[str, Any] | None = None
    hooks: dict[str, Any] | None = None  # the spec's hooks; poststart and poststop run after create returned

    dir: Path = field(default=Path("/"), compare=False)

    @property
    def fifo(self) -> Path:
        return self.dir / "exec.fifo"

    @property
    def exit_file(self) -> Path:
        return self.dir / "exit.json"

    def alive(self) -> bool:
        return self.pid > 0 and pid_start_time(self.pid) == self.pid_start

    def status(self) -> Status:
        if not self.pid:
            return Status.CREATING
        if not self.alive():
            return Status.STOPPED
        if self.fifo.exists():
            return Status.CREATED
        return Status.RUNNING

    def exit_status(self) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self.exit_file.read_text()))
        except (FileNotFoundError, ValueError):
            return None

    def save(self) -> None:
        write_json_atomic(self.dir / "state.json", shallow_fields(self, drop=("dir",)))


class StateStore:
    """The directory of container states under ROOT (like runc's --root)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, cid: str) -> Path:
        return self.root / cid

    def reserve(self, cid: str) -> Path:
        """Make the container's directory; it existing already means the id is taken."""
        check_id(cid)
        ensure_topdir(self.root, mode=0o711)
        d = self.root / cid
        try:
            d.mkdir(mode=0o711)
        except FileExistsError:
            raise AlreadyExists(f"container with id {cid!r} already exists") from None
        return d

    def load(self, cid: str) -> ContainerState:
        check_id(cid)
        d = self.root / cid
        try:
            data = jsonbytes.loads((d / "state.json").read_bytes())
        except FileNotFoundError:
            raise NotFound(f"container {cid!r} does not exist") from None
        except ValueError:
            raise NotFound(f"container {cid!r} has a damaged state file") from None
        st = ContainerState(**data)
        st.dir = d
        return st

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "state.json").exists())
