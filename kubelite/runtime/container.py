"""The OCI lifecycle verbs over container state: create, start, kill, delete, state.

Each verb checks the container's derived status against an explicit guard
(``can_start``, ``can_kill``, ``can_delete``) and raises ``Conflict`` with the
words runc uses, so tools written for runc read our errors the same way. A
failed create undoes everything it did: cgroup, process, state directory.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path
from typing import Any

from kubelite.errors import Conflict, Invalid, KubeliteError, SystemFailure
from kubelite.runtime import cgroups, jsonbytes
from kubelite.runtime import spec as oci
from kubelite.runtime.hooks import CREATE_HOOKS, run_hooks
from kubelite.runtime.launcher import Launched, launch
from kubelite.runtime.state import ContainerState, StateStore, Status, pid_start_time

SIGNALS = {s.name: s for s in signal.Signals}


def can_start(status: Status) -> bool:
    return status is Status.CREATED


def can_kill(status: Status) -> bool:
    return status in (Status.CREATED, Status.RUNNING, Status.PAUSED)


def can_delete(status: Status) -> bool:
    return status in (Status.STOPPED, Status.CREATED, Status.CREATING)


def parse_signal(sig: str | int) -> int:
    if isinstance(sig, int):
        return sig
    s = sig.upper()
    if s.isdigit():
        return int(s)
    if not s.startswith("SIG"):
        s = "SIG" + s
    if s not in SIGNALS:
        raise Invalid(f"unknown signal {sig!r}")
    return int(SIGNALS[s])


def now_rfc3339() -> str:
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + f".{ns % 1_000_000_000:09d}Z"


_seccomp_cache: dict[bytes, Any] = {}


def compiled_seccomp(profile: dict[str, Any] | None) -> Any:
    if not profile:
        return None
    key = jsonbytes.dumps(profile, sort_keys=True)
    if key not in _seccomp_cache:
        from kubelite.runtime import seccomp  # only specs with a profile pay for the compiler

        program = seccomp.compile(profile)
        program.blob  # noqa: B018 - packed now: the zygote's copy is then shared, not packed again in every init
        _seccomp_cache[key] = program
    return _seccomp_cache[key]


class Runtime:
    """The verbs, over the containers whose state lives under ROOT."""

    def __init__(self, root: Path, cgroup_root: Path = Path("/sys/fs/cgroup")) -> None:
        self.store = StateStore(root)
        self.cgroup_root = cgroup_root
        self.cgroup_version = cgroups.detect(cgroup_root)

    def cgroup(self, st: ContainerState) -> cgroups.CgroupManager:
        return cgroups.manager(st.cgroup_path, root=self.cgroup_root, version=st.cgroup_version)

    def create(self, cid: str, bundle: Path, *, stdio: tuple[int, int, int] | None = None,
               wait_start: bool = True, spec: dict[str, Any] | None = None,
               annotations: dict[str, str] | None = None, shim_pid: int = 0,
               started: str = "", in_place: bool = False) -> tuple[ContainerState, Launched]:
        """Create CID from BUNDLE: a process waiting in its namespaces for `start` (or running, if not wait_start).

        ``shim_pid`` and ``started`` go into the state's first save: a supervisor that knows them already
        spares a rewrite of state.json (each one a new file, renamed over the old). ``in_place``: the caller
        exists for this container alone and forks nothing else (see :func:`launcher.launch`); hooks, which
        are forked processes, keep the usual path."""
        bundle = bundle.resolve()
        if spec is None:
            spec = oci.load_bundle(bundle)
        else:
            oci.validate(spec)
        rootfs = str(oci.rootfs_path(spec, bundle))
        linux = spec.get("linux", {})
        d = self.store.reserve(cid)
        st = ContainerState(
            id=cid, bundle=str(bundle), rootfs=rootfs, created=now_rfc3339(),
            cgroup_path=linux.get("cgroupsPath") or f"/kubelite/{cid}", cgroup_version=self.cgroup_version,
            annotations={**spec.get("annotations", {}), **(annotations or {})},
            process=spec["process"], seccomp=linux.get("seccomp"), hooks=spec.get("hooks"),
        )
        st.dir = d
        cg = None
        launched: Launched | None = None
        try:
            program = compiled_seccomp(st.seccomp)
            cg = self.cgroup(st)
            _create_cgroup(cg)
            cg.set(linux.get("resources") or {})
            if wait_start:
                os.mkfifo(st.fifo, 0o600)
            launched = launch(spec, rootfs, cgroup=cg, cgroup_version=self.cgroup_version, stdio=stdio,
                              exec_fifo=str(st.fifo) if wait_start else None, seccomp_program=program,
                              in_place=in_place and not spec.get("hooks"))
            st.pid = launched.pid
            st.pid_start = pid_start_time(launched.pid) or 0
            st.shim_pid, st.started = shim_pid, started
            st.save()
            if spec.get("hooks"):
                for phase in CREATE_HOOKS:
                    run_hooks(spec, phase, self.state(cid))
        except BaseException:
            if launched is not None:
                _sigkill(launched.pid)
                if launched.console_fd is not None:
                    os.close(launched.console_fd)
            if cg is not None:
                cg.destroy()
                _remove_empty_parents(cg)
            _rmtree(d)
            raise
        return st, launched

    def load(self, cid: str) -> ContainerState:
        return self.store.load(cid)

    def start(self, cid: str) -> None:
        st = self.store.load(cid)
        status = st.status()
        if not can_start(status):
            raise Conflict(f"cannot start a container that is {status.value}" if status is not Status.RUNNING
                           else "cannot start an already running container")
        try:
            fd = os.open(st.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise Conflict("cannot start an already running container") from None
        try:
            # The init opens the fifo for writing as soon as it is ready; poll for its byte.
            deadline = time.monotonic() + 10
            while True:
                try:
                    data = os.read(fd, 1)
                except BlockingIOError:
                    data = b""
                if data:
                    break
                if not st.alive():
                    raise Conflict("cannot start a container that has stopped")
                if time.monotonic() > deadline:
                    raise KubeliteError("container did not start")
                time.sleep(0.0005)
        finally:
            os.close(fd)
            try:
                st.fifo.unlink()
            except FileNotFoundError:
                pass
        if st.hooks:
            run_hooks({"hooks": st.hooks}, "poststart", self.state(cid), fatal=False)

    def kill(self, cid: str, sig: str | int = "SIGTERM", all_processes: bool = False) -> None:
        st = self.store.load(cid)
        signum = parse_signal(sig)
        status = st.status()
        if not can_kill(status):
            raise Conflict(f"container {cid!r} is not running")
        if all_processes:
            for pid in self.cgroup(st).procs():
                _signal(pid, signum)
        else:
            _signal(st.pid, signum)

    def delete(self, cid: str, force: bool = False) -> None:
        st = self.store.load(cid)
        status = st.status()
        if not can_delete(status):
            if not force:
                raise Conflict(f"cannot delete container {cid!r} that is not stopped: {status.value}")
        if st.alive():
            _sigkill(st.pid)
        cg = self.cgroup(st)
        cg.destroy()
        _remove_empty_parents(cg)
        if st.hooks:
            run_hooks({"hooks": st.hooks}, "poststop", self.state(cid), fatal=False)
        _rmtree(st.dir)

    def state(self, cid: str) -> dict[str, Any]:
        st = self.store.load(cid)
        status = st.status()
        return {
            "ociVersion": oci.OCI_VERSION, "id": st.id, "status": status.value,
            "pid": st.pid if status in (Status.CREATED, Status.RUNNING, Status.PAUSED) else 0,
            "bundle": st.bundle, "rootfs": st.rootfs, "created": st.created,
            "annotations": st.annotations, "owner": "",
        }

    def list(self) -> list[ContainerState]:
        out = []
        for cid in self.store.ids():
            try:
                out.append(self.store.load(cid))
            except KubeliteError:
                continue
        return out


def _create_cgroup(cg: cgroups.CgroupManager) -> None:
    """Create CG, again if a concurrent delete removed an empty parent between our mkdirs."""
    for attempt in range(5):
        try:
            cg.create()
            return
        except SystemFailure as e:
            if attempt == 4 or "No such file" not in str(e):
                raise


def _remove_empty_parents(cg: cgroups.CgroupManager) -> None:
    """Remove the parents of CG's leaf (such as /kubelite) once empty, never the hierarchy roots."""
    depth = len([p for p in cg.path.split("/") if p])
    for leaf in cg.paths().values():
        parent = leaf.parent
        for _ in range(depth - 1):
            try:
                os.rmdir(parent)
            except OSError:
                break  # still in use by another container, or already gone
            parent = parent.parent


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _sigkill(pid: int) -> None:
    _signal(pid, signal.SIGKILL)
    # Reap it if it is ours (the OCI CLI's run, or the shim); otherwise wait for it to vanish.
    for _ in range(2000):
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)
            if done:
                return
        except ChildProcessError:
            if pid_start_time(pid) is None:
                return
        time.sleep(0.001)


def _rmtree(path: Path) -> None:
    import shutil

    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise
