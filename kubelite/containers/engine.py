"""Named containers from images: what `docker run` and friends do, over our runtime.

The engine joins the layers below it: an image from the image store, a
writable overlay snapshot as the rootfs, a spec generated from the image and
the options, and a shim that creates and supervises the container. Its own
record of a container is a directory under DATA_ROOT/containers/ID (options,
spec, log); the live part (process, exit status) is the runtime's state. Names
are reserved by an atomic symlink under DATA_ROOT/names, so two concurrent
`run --name x` cannot both win.

A record's ``meta.json`` is written once and never changed, so the engine
keeps the records it has read in memory and a listing of the directory (one
``getdents``) is all it takes to see what other processes created or removed:
a node agent asks for its containers many times a second and must not re-read
every record each time. The shim is started through ``shim_starter``, which a
long-lived caller may point at a helper process (the agent's zygote) so that
supervisors are not forks of the caller itself.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelite.containers.names import random_name, valid_name
from kubelite.containers.specgen import RunOptions, build_spec
from kubelite.errors import AlreadyExists, Conflict, Invalid, KubeliteError, NotFound
from kubelite.images.snapshotter import OverlaySnapshotter
from kubelite.images.store import ImageStore
from kubelite.paths import data_root, state_root
from kubelite.runtime import jsonbytes
from kubelite.runtime.container import Runtime, now_rfc3339, parse_signal
from kubelite.runtime.shim import ShimOptions, start_shim
from kubelite.runtime.state import ContainerState, Status, pid_start_time, shallow_fields, write_json_atomic
from kubelite.runtime.topdir import ensure_topdir

DEFAULT_IMAGE_NAMES = ("busybox", "busybox:latest", "docker.io/library/busybox:latest")


@dataclass
class ContainerRecord:
    id: str
    name: str
    image: str
    image_id: str
    created: str
    args: list[str]
    options: dict[str, Any]
    dir: Path

    @property
    def log_path(self) -> str:
        return str(self.dir / "container.log")


@dataclass
class ContainerView:
    """A record together with what the runtime knows of it now."""

    record: ContainerRecord
    status: str  # created, running, exited
    state: ContainerState | None
    exit: dict[str, Any] | None


class Engine:
    def __init__(self, root: Path | None = None, state: Path | None = None) -> None:
        self.root = root or data_root()
        self.images = ImageStore(self.root)
        self.snapshots = OverlaySnapshotter(self.root)
        self.runtime = Runtime(state or state_root() / "containers")
        self.cdir = self.root / "containers"
        self.names = self.root / "names"
        self._cache: dict[str, ContainerRecord] = {}
        self._cache_lock = threading.Lock()  # the agent lists from several threads at once
        # Who forks the supervisor: this process by default (the CLI), a zygote for a node agent.
        self.shim_starter: Callable[[Runtime, ShimOptions], ContainerState] = start_shim

    # -- records ---------------------------------------------------------------------------------
    def _load(self, cid: str) -> ContainerRecord:
        d = self.cdir / cid
        try:
            data = jsonbytes.loads((d / "meta.json").read_bytes())
        except (FileNotFoundError, ValueError):
            raise NotFound(f"no such container: {cid}") from None
        return ContainerRecord(dir=d, **data)

    def records(self) -> list[ContainerRecord]:
        try:
            ids = os.listdir(self.cdir)
        except FileNotFoundError:
            ids = []
        with self._cache_lock:
            cache = self._cache
            for gone in cache.keys() - set(ids):
                del cache[gone]
            for cid in ids:
                if cid not in cache:
                    try:
                        cache[cid] = self._load(cid)
                    except NotFound:  # being created (no meta.json yet) or removed
                        continue
            out = list(cache.values())
        return sorted(out, key=lambda r: r.created, reverse=True)

    def find(self, ref: str) -> ContainerRecord:
        if not ref:
            raise Invalid("a container name or id is required")
        link = self.names / ref
        if valid_name(ref) and os.path.islink(link):
            return self._load(os.readlink(link))
        if (self.cdir / ref / "meta.json").exists():
            return self._load(ref)
        matches = [r for r in self.records() if r.id.startswith(ref)] if len(ref) >= 1 else []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise Invalid(f"multiple containers match {ref!r}: use more of the id")
        raise NotFound(f"no such container: {ref}")

    def view(self, rec: ContainerRecord) -> ContainerView:
        try:
            st = self.runtime.load(rec.id)
        except NotFound:
            exit_ = _read_json(rec.dir / "exit.json")
            return ContainerView(rec, "exited" if exit_ else "created", None, exit_)
        status = st.status()
        exit_ = st.exit_status()
        if status is Status.STOPPED:
            if exit_ is None and _shim_alive(st):
                # The shim has not recorded the exit yet: it is still a running container for a moment.
                return ContainerView(rec, "running", st, None)
            if exit_ is None:
                # The shim writes exit.json, then exits: it may have done both between our read and our look
                # at it. Only a shim gone without a record (killed) leaves the exit unknown.
                exit_ = st.exit_status()
            return ContainerView(rec, "exited", st, exit_ or {"exitCode": 255, "oomKilled": False})
        return ContainerView(rec, "running" if status is Status.RUNNING else "created", st, None)

    # -- lifecycle -------------------------------------------------------------------------------
    def create(self, opts: RunOptions) -> ContainerRecord:
        opts.check()
        image = self._image(opts.image)
        cid = secrets.token_hex(32)
        name = opts.name or random_name()
        if not valid_name(name):
            raise Invalid(f"invalid container name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        self.names.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(cid, self.names / name)
        except FileExistsError:
            raise AlreadyExists(f"the container name {name!r} is already in use by container "
                                f"{os.readlink(self.names / name)[:12]}") from None
        d = self.cdir / cid
        try:
            ensure_topdir(self.cdir)
            d.mkdir()
            rootfs = d / "rootfs"
            rootfs.mkdir()
            self.snapshots.prepare_mounted(cid, image, rootfs)
            spec = build_spec(image.config, opts, cid=cid, rootfs=str(rootfs), etc_dir=str(d / "etc"))
            # Compact, via orjson: a spec with a seccomp profile is large, on the path of every container start.
            (d / "config.json").write_bytes(jsonbytes.dumps(spec))
            rec = ContainerRecord(id=cid, name=name, image=image.name, image_id=image.id, created=now_rfc3339(),
                                  args=spec["process"]["args"], options=shallow_fields(opts), dir=d)
            write_json_atomic(d / "meta.json", shallow_fields(rec, drop=("dir",)))
            return rec
        except BaseException:
            self.snapshots.remove(cid)  # unmounts it too, if it got that far
            shutil.rmtree(d, ignore_errors=True)
            os.unlink(self.names / name)
            raise

    def _image(self, ref: str) -> Any:
        try:
            return self.images.get(ref)
        except NotFound:
            # The default image is always there for whoever asks, built on first use.
            if ref not in DEFAULT_IMAGE_NAMES:
                raise
            self.images.ensure_default()
            return self.images.get(ref)

    def start(self, rec: ContainerRecord, wait_attach: bool = False) -> ContainerState:
        opts = rec.options
        spec = jsonbytes.loads((rec.dir / "config.json").read_bytes())
        on_exit = self._remove_after_exit if opts.get("rm") else None
        try:
            return self.shim_starter(self.runtime, ShimOptions(
                cid=rec.id, bundle=rec.dir, spec=spec, log_path=rec.log_path, stdin=bool(opts.get("interactive")),
                wait_attach=wait_attach, annotations={"kubelite.name": rec.name}, on_exit=on_exit))
        except BaseException:
            if opts.get("rm"):
                self.remove(rec.id, force=True)
            raise

    def run(self, opts: RunOptions) -> tuple[ContainerRecord, ContainerState]:
        rec = self.create(opts)
        return rec, self.start(rec, wait_attach=not opts.detach)

    def _remove_after_exit(self, st: ContainerState, exit_: dict[str, Any]) -> None:
        self._remove(self._load(st.id), in_shim=True)

    def kill(self, ref: str, sig: str | int = "SIGKILL") -> None:
        rec = self.find(ref)
        signum = parse_signal(sig)
        v = self.view(rec)
        if v.status != "running":
            raise Conflict(f"container {rec.name} is not running")
        self.runtime.kill(rec.id, signum)

    def stop(self, ref: str, timeout: float = 10) -> ContainerRecord:
        rec = self.find(ref)
        v = self.view(rec)
        if v.status != "running" or v.state is None:
            return rec
        self.runtime.kill(rec.id, signal.SIGTERM)
        if not self.wait_exit(rec, timeout):
            self.runtime.kill(rec.id, signal.SIGKILL)
            self.wait_exit(rec, 30)
        return rec

    def wait_exit(self, rec: ContainerRecord, timeout: float | None = None) -> dict[str, Any] | None:
        """Wait for the shim to record the exit; None on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.005
        while True:
            v = self.view(rec)
            if v.status == "exited":
                return v.exit
            if v.state is None and v.status == "created":
                return None
            if deadline is not None and time.monotonic() > deadline:
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def remove(self, ref: str, force: bool = False) -> ContainerRecord:
        rec = self.find(ref)
        v = self.view(rec)
        if v.status == "running":
            if not force:
                raise Conflict(f"cannot remove running container {rec.name}: stop it first or use rm -f")
            if v.state is not None:
                self.runtime.kill(rec.id, signal.SIGKILL)
                self.wait_exit(rec, 30)
        self._remove(rec)
        return rec

    def _remove(self, rec: ContainerRecord, in_shim: bool = False) -> None:
        try:
            st = self.runtime.load(rec.id)
        except NotFound:
            st = None
        if st is not None:
            if not in_shim:
                _wait_shim_gone(st)
            exit_ = st.exit_status()
            if exit_:
                write_json_atomic(rec.dir / "exit.json", exit_)
            self.runtime.delete(rec.id, force=True)
        self.snapshots.remove(rec.id)  # unmounts too
        shutil.rmtree(rec.dir, ignore_errors=True)
        link = self.names / rec.name
        try:
            if os.readlink(link) == rec.id:
                os.unlink(link)
        except FileNotFoundError:
            pass

    def image_in_use(self, image_id: str) -> bool:
        return any(r.image_id == image_id for r in self.records())

    def inspect(self, ref: str) -> dict[str, Any]:
        rec = self.find(ref)
        v = self.view(rec)
        spec = _read_json(rec.dir / "config.json") or {}
        res = spec.get("linux", {}).get("resources", {})
        exit_ = v.exit or {}
        running = v.status == "running"
        return {
            "Id": rec.id, "Name": "/" + rec.name, "Created": rec.created, "Path": rec.args[0], "Args": rec.args[1:],
            "Image": rec.image_id,
            "State": {
                "Status": v.status, "Running": running, "Paused": False, "Restarting": False,
                "OOMKilled": bool(exit_.get("oomKilled")), "Dead": False,
                "Pid": v.state.pid if v.state and running else 0,
                "ExitCode": exit_.get("exitCode", 0),
                "StartedAt": (v.state.started if v.state else "") or exit_.get("startedAt", ""),
                "FinishedAt": exit_.get("finishedAt", ""),
            },
            "LogPath": rec.log_path,
            "HostConfig": {
                "Memory": res.get("memory", {}).get("limit", 0),
                "NanoCpus": int(res.get("cpu", {}).get("quota", 0) * 1e9 / res["cpu"]["period"])
                if res.get("cpu", {}).get("quota") else 0,
                "CpuShares": res.get("cpu", {}).get("shares", 0),
                "PidsLimit": res.get("pids", {}).get("limit"),
                "Binds": rec.options.get("volumes") or None, "AutoRemove": bool(rec.options.get("rm")),
                "ReadonlyRootfs": bool(rec.options.get("read_only")),
                "CapAdd": rec.options.get("cap_add") or None, "CapDrop": rec.options.get("cap_drop") or None,
            },
            "Config": {
                "Hostname": spec.get("hostname", ""), "User": rec.options.get("user") or "",
                "Env": spec.get("process", {}).get("env", []), "Cmd": rec.args, "Image": rec.image,
                "WorkingDir": spec.get("process", {}).get("cwd", "/"),
                "Tty": bool(rec.options.get("tty")), "OpenStdin": bool(rec.options.get("interactive")),
                "StdinOnce": bool(rec.options.get("stdin_once")),
                "Labels": {**self._image_labels(rec), **(rec.options.get("labels") or {})},
                "ExposedPorts": self._image_config(rec).get("ExposedPorts") or None,
            },
        }

    def _image_config(self, rec: ContainerRecord) -> dict[str, Any]:
        try:
            return dict(self.images.get(rec.image_id).config.get("config") or {})
        except KubeliteError:
            return {}

    def _image_labels(self, rec: ContainerRecord) -> dict[str, str]:
        return dict(self._image_config(rec).get("Labels") or {})


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, ValueError):
        return None


def _shim_alive(st: ContainerState) -> bool:
    return st.shim_pid > 0 and pid_start_time(st.shim_pid) is not None


def _wait_shim_gone(st: ContainerState, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while _shim_alive(st) and time.monotonic() < deadline:
        time.sleep(0.005)
