"""A pod's volumes on this node: set up, kept current, bound into containers, torn down.

Everything of a pod lives under ``ROOT/<pod uid>/`` with the kubelet's names:
``volumes/kubernetes.io~<plugin>/<volume>`` for the content and
``volume-subpaths/<volume>/<container>/<index>`` for subPath binds. The
directory is the record: ``pod_uids()`` after a restart finds pods to adopt or
clean, and ``teardown`` needs nothing but the uid.

Secrets and projected volumes (which carry tokens and secrets) are written onto
a tmpfs mounted on the volume's own directory before the first byte, so they
never reach a disk; ``emptyDir`` with ``medium: Memory`` is a tmpfs of
``sizeLimit``. Projected kinds are written by the atomic writer, and
``refresh`` re-renders them, replacing content in one rename when a ConfigMap or
Secret changed (a subPath mount keeps the file it resolved, as in Kubernetes).

subPath binds follow the kubelet's defence against symlink races: the path is
resolved, checked to stay inside the volume, re-opened one component at a time
without following symlinks, and the opened file itself is bound
(``/proc/self/fd/N``), so a container that swaps a directory for a symlink to
``/`` between check and use gains nothing.

File work is synchronous: it is small, and keeping each volume's write free of
awaits means two concurrent refreshes of one pod cannot interleave.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

from kubelite.agent.config.envvars import subpath_expr
from kubelite.agent.config.errors import VolumeError, VolumeInvalid, VolumeSystemFailure, config_error
from kubelite.agent.config.fieldpath import FieldError, host_allocatable, quantity
from kubelite.agent.config.lookup import ObjectLookup
from kubelite.agent.config.volumes import atomic_writer, hostpath, mounts
from kubelite.agent.config.volumes.payloads import (
    Payload,
    downward_payload,
    object_payload,
    projected_payload,
)
from kubelite.errors import Invalid, SystemFailure
from kubelite.runtime.topdir import ensure_topdir

T = TypeVar("T")
PLUGINS = {
    "configMap": "kubernetes.io~configmap", "secret": "kubernetes.io~secret",
    "emptyDir": "kubernetes.io~empty-dir", "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected", "hostPath": "kubernetes.io~host-path",
}
PROJECTED = ("configMap", "secret", "downwardAPI", "projected")
ON_TMPFS = ("secret", "projected")
PROPAGATION = {None: "rprivate", "None": "rprivate", "HostToContainer": "rslave", "Bidirectional": "rshared"}


def volume_kind(volume: Mapping[str, Any]) -> str:
    for kind in PLUGINS:
        if volume.get(kind) is not None:
            return kind
    other = next((k for k in volume if k != "name"), "none")
    raise VolumeInvalid(str(volume.get("name", "")), f"volume type {other!r} is not supported on this node")


def _uid(pod: Mapping[str, Any]) -> str:
    uid = str((pod.get("metadata") or {}).get("uid") or "")
    _check_uid(uid)
    return uid


def fs_group(pod: Mapping[str, Any]) -> int | None:
    group = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
    return None if group is None else int(group)


def pod_memory_limit(pod: Mapping[str, Any]) -> int | None:
    """The pod cgroup's memory limit, as the kubelet sizes it: None unless every container has one."""
    spec = pod.get("spec") or {}
    total, init_max = 0, 0
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            limit = ((c.get("resources") or {}).get("limits") or {}).get("memory")
            if limit is None or quantity(limit) == 0:
                return None
            if key == "containers":
                total += int(quantity(limit))
            else:
                init_max = max(init_max, int(quantity(limit)))
    return max(total, init_max) or None


def _check_uid(uid: str) -> None:
    if not uid or "/" in uid or uid in (".", "..") or "\0" in uid:
        raise Invalid(f"invalid pod uid {uid!r}")


class VolumeManager:
    def __init__(self, root: Path, node_allocatable: Mapping[str, str] | None = None) -> None:
        self.root = Path(root)
        self._allocatable = dict(node_allocatable) if node_allocatable is not None else None

    @property
    def allocatable(self) -> Mapping[str, str]:
        if self._allocatable is None:
            self._allocatable = host_allocatable()
        return self._allocatable

    # -- paths -----------------------------------------------------------------------------------
    def pod_dir(self, uid: str) -> Path:
        _check_uid(uid)
        return self.root / uid

    def volume_dir(self, pod: Mapping[str, Any], volume: Mapping[str, Any]) -> Path:
        """Where a volume's content is on the host (a hostPath volume is its own path)."""
        kind = volume_kind(volume)
        name = str(volume.get("name", ""))
        if kind == "hostPath":
            path = str(volume["hostPath"].get("path") or "")
            if not path.startswith("/"):
                raise VolumeInvalid(name, f"hostPath {path!r} must be an absolute path")
            return Path(path)
        if not name or "/" in name or name in (".", "..") or "\0" in name:
            raise VolumeInvalid(name, f"invalid volume name {name!r}")
        return self.pod_dir(_uid(pod)) / "volumes" / PLUGINS[kind] / name

    def pod_uids(self) -> list[str]:
        """Pods with a directory here, mounted or not: what an agent restart must adopt or clean."""
        try:
            return sorted(d.name for d in self.root.iterdir() if d.is_dir() and not d.is_symlink())
        except FileNotFoundError:
            return []

    # -- set up and refresh ----------------------------------------------------------------------
    async def setup(self, pod: dict[str, Any], lookup: ObjectLookup) -> None:
        """Make every volume of POD; safe to repeat. Tries all, then raises the first VolumeError."""
        _uid(pod)
        errors: list[VolumeError] = []
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            try:
                await _guarded(volume, self._setup_one(pod, volume, lookup))
            except VolumeError as e:
                errors.append(e)
        if errors:
            raise errors[0]

    async def refresh(self, pod: dict[str, Any], lookup: ObjectLookup) -> bool:
        """Re-render the set-up configMap/secret/downwardAPI/projected volumes; True if any content changed.

        A volume whose source fails keeps its last content (the kubelet's behaviour); the first
        error is raised after every other volume had its turn.
        """
        changed = False
        errors: list[VolumeError] = []
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            try:
                if volume_kind(volume) not in PROJECTED or not self.volume_dir(pod, volume).is_dir():
                    continue
                changed |= await _guarded(volume, self._render(pod, volume, lookup))
            except VolumeError as e:
                errors.append(e)
        if errors:
            raise errors[0]
        return changed

    async def _setup_one(self, pod: dict[str, Any], volume: Mapping[str, Any], lookup: ObjectLookup) -> None:
        name = str(volume.get("name", ""))
        kind = volume_kind(volume)
        path = self.volume_dir(pod, volume)
        if kind == "hostPath":
            try:
                hostpath.check(str(path), volume["hostPath"].get("type"))
            except ValueError as e:
                raise VolumeInvalid(name, str(e)) from None
            return
        ensure_topdir(self.root)
        path.mkdir(parents=True, exist_ok=True)
        if kind == "emptyDir":
            src = volume["emptyDir"] or {}
            medium = src.get("medium") or ""
            if medium == "Memory":
                if not mounts.is_mount_point(path):
                    mounts.mount_tmpfs(path, self._tmpfs_size(pod, name, src.get("sizeLimit")), 0o777)
            elif medium:
                raise VolumeInvalid(name, f"emptyDir medium {medium!r} is not supported on this node")
            group = fs_group(pod)
            if group is not None:
                os.chown(path, -1, group)
            # An emptyDir is writable by every user of the pod, as in Kubernetes.
            path.chmod(0o777 if group is None else 0o2777)
            return
        if kind in ON_TMPFS and not mounts.is_mount_point(path):
            mounts.mount_tmpfs(path, self._tmpfs_size(pod, name, None))
        await self._render(pod, volume, lookup)

    def _tmpfs_size(self, pod: Mapping[str, Any], name: str, size_limit: object) -> int | None:
        """The smallest of the node's memory, the pod's memory limit and the volume's sizeLimit (kubelet rule)."""
        try:
            sizes = [int(quantity(v)) for v in (self.allocatable.get("memory"), size_limit) if v is not None]
            sizes += [v for v in (pod_memory_limit(pod),) if v is not None]
        except FieldError as e:
            raise VolumeInvalid(name, str(e)) from None
        sizes = [v for v in sizes if v > 0]
        return min(sizes) if sizes else None

    async def _render(self, pod: dict[str, Any], volume: Mapping[str, Any], lookup: ObjectLookup) -> bool:
        name = str(volume.get("name", ""))
        kind = volume_kind(volume)
        src = volume[kind] or {}
        ns = (pod.get("metadata") or {}).get("namespace") or "default"
        payload: Payload
        if kind in ("configMap", "secret"):
            payload = await object_payload(name, kind.lower(), src, ns, lookup, src.get("defaultMode"))
        elif kind == "downwardAPI":
            payload = downward_payload(name, src.get("items") or [], pod, src.get("defaultMode"), self.allocatable)
        else:
            payload = await projected_payload(name, src, pod, lookup, self.allocatable)
        try:
            return atomic_writer.write(self.volume_dir(pod, volume), payload, fs_group(pod))
        except atomic_writer.PayloadError as e:
            raise VolumeInvalid(name, str(e)) from None

    # -- into containers -------------------------------------------------------------------------
    def mounts_for(self, pod: Mapping[str, Any], container: Mapping[str, Any],
                   env: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
        """OCI mounts for CONTAINER's volumeMounts; ``env`` (its resolved environment) serves subPathExpr.

        Raises ConfigError (the container's CreateContainerConfigError) for a mount that cannot be made.
        """
        uid = _uid(pod)
        cname = str(container.get("name", ""))
        volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
        out = []
        for index, vm in enumerate(container.get("volumeMounts") or []):
            vname = vm.get("name", "")
            if vname not in volumes:
                raise config_error(f'cannot find volume "{vname}" to mount into container "{cname}"')
            try:
                source = self.volume_dir(pod, volumes[vname])
            except VolumeError as e:
                raise config_error(e.detail) from None
            if not os.path.lexists(source):
                if volume_kind(volumes[vname]) != "hostPath":
                    raise config_error(f'volume "{vname}" is not set up for container "{cname}"')
                # An unchecked hostPath that does not exist is made a directory, as containerd's CRI does.
                try:
                    source.mkdir(0o755, parents=True, exist_ok=True)
                except OSError as e:
                    raise config_error(f"failed to mkdir {source}: {e.strerror or e}") from None
            sub = vm.get("subPath") or ""
            if vm.get("subPathExpr"):
                sub = subpath_expr(vm["subPathExpr"], env or [])
            if sub:
                source = self._subpath(uid, vname, cname, index, source, sub, vm)
            propagation = vm.get("mountPropagation")
            if propagation not in PROPAGATION:
                raise config_error(f"invalid mountPropagation {propagation!r} for volumeMount {vname!r}")
            out.append({"destination": vm.get("mountPath", ""), "type": "bind", "source": str(source),
                        "options": ["rbind", PROPAGATION[propagation], "ro" if vm.get("readOnly") else "rw"]})
        # Parents before children, so /data never hides /data/cache whatever order the pod lists them in.
        return sorted(out, key=lambda m: len([p for p in os.path.normpath(m["destination"]).split("/") if p]))

    def _subpath(self, uid: str, vname: str, cname: str, index: int, volume_path: Path, sub: str,
                 vm: Mapping[str, Any]) -> Path:
        if sub.startswith("/"):
            raise config_error(f"error SubPath `{sub}` must not be an absolute path")
        if ".." in sub.split("/"):
            raise config_error(f"unable to provision SubPath `{sub}`: must not contain '..'")
        base = os.path.realpath(volume_path)
        resolved = os.path.realpath(os.path.join(base, sub))
        if resolved != base and not resolved.startswith(base.rstrip("/") + "/"):
            raise config_error(f'failed to prepare subPath for volumeMount "{vname}" of container "{cname}"')
        target = self.pod_dir(uid) / "volume-subpaths" / vname / cname / str(index)
        try:
            fd = _open_beneath(base, os.path.relpath(resolved, base), os.stat(base).st_mode & 0o7777)
        except OSError:
            raise config_error(f'failed to prepare subPath for volumeMount "{vname}" of container "{cname}"') \
                from None
        try:
            is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
            mounts.unmount_all(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            if is_dir:
                target.mkdir(exist_ok=True)
            elif not target.exists():
                target.touch()
            mounts.bind_fd(fd, target)
        except OSError as e:
            raise config_error(f'failed to prepare subPath for volumeMount "{vname}" of container "{cname}": '
                               f"{e.strerror or e}") from None
        finally:
            os.close(fd)
        return target

    # -- teardown --------------------------------------------------------------------------------
    def teardown(self, pod_uid: str) -> None:
        """Unmount everything of the pod and remove its directory; a no-op when it is already gone."""
        d = self.pod_dir(pod_uid)
        left = mounts.unmount_all(d)
        if left:
            # Never delete below a live mount: that would delete a host's or a tmpfs' content, not ours.
            raise SystemFailure(f"cannot unmount {', '.join(left)}; leaving {d} in place")
        shutil.rmtree(d, ignore_errors=True)
        if d.exists():
            raise SystemFailure(f"cannot remove {d}")


async def _guarded(volume: Mapping[str, Any], work: Coroutine[Any, Any, T]) -> T:
    """Malformed sources and kernel refusals become VolumeErrors, so a pod worker reports and retries."""
    name = str(volume.get("name", "")) if isinstance(volume, Mapping) else ""
    try:
        return await work
    except OSError as e:
        where = f" {e.filename}" if e.filename else ""
        raise VolumeSystemFailure(name, f"{e.strerror or e}:{where}".rstrip(":")) from None
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise VolumeInvalid(name, f"invalid volume source: {e}") from None


def _open_beneath(base: str, rel: str, mode: int) -> int:
    """An O_PATH fd of BASE/REL, no component a symlink; missing directories are made with MODE."""
    fd = os.open(base, os.O_PATH | os.O_DIRECTORY)
    try:
        for comp in [c for c in rel.split("/") if c not in ("", ".")]:
            try:
                nxt = os.open(comp, os.O_PATH | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                os.mkdir(comp, mode, dir_fd=fd)
                nxt = os.open(comp, os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY, dir_fd=fd)
                os.chmod(f"/proc/self/fd/{nxt}", mode)
            os.close(fd)
            fd = nxt
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                raise OSError(40, "symlink in subPath")
        return fd
    except BaseException:
        os.close(fd)
        raise
