"""Pod volumes on a real kernel: tmpfs mounts, the atomic writer's layout and swap, subPath binds, teardown.

Every test works under its own temporary pods dir and checks /proc/self/mountinfo
afterwards: whatever the volume manager mounted must be gone after ``teardown``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelite.agent.config import ConfigError, VolumeInvalid, VolumeManager, VolumeNotFound
from kubelite.agent.config.volumes.mounts import mounts_under, unmount_all
from kubelite.containers.engine import Engine
from kubelite.containers.specgen import RunOptions
from tests.conftest import Env

pytestmark = pytest.mark.root
UID = "6f1c-pod-uid"


class Lookup:
    """ConfigMaps and Secrets in dicts, shaped as the API serves them; tokens counted."""

    def __init__(self) -> None:
        self.configmaps: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, Any]] = {}
        self.tokens = 0

    def set_configmap(self, name: str, data: dict[str, str], binary: dict[str, bytes] | None = None) -> None:
        obj: dict[str, Any] = {"metadata": {"name": name, "namespace": "ns"}, "data": data}
        if binary:
            obj["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
        self.configmaps[name] = obj

    def set_secret(self, name: str, data: dict[str, bytes]) -> None:
        self.secrets[name] = {"metadata": {"name": name, "namespace": "ns"},
                              "data": {k: base64.b64encode(v).decode() for k, v in data.items()}}

    async def configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        assert namespace == "ns"
        return self.configmaps.get(name)

    async def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        assert namespace == "ns"
        return self.secrets.get(name)

    async def service_account_token(self, pod: dict[str, Any], audience: str, expiration_seconds: int) -> str:
        self.tokens += 1
        return f"token-for-{pod['spec'].get('serviceAccountName')}-{audience}-{expiration_seconds}"


class ObjectsOnly(Lookup):
    """A lookup that cannot mint tokens (it has no service_account_token)."""

    service_account_token = None  # type: ignore[assignment]


def make_pod(volumes: list[dict[str, Any]], mounts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "ns", "uid": UID, "labels": {"app": "web", "z": "last"},
                         "annotations": {"a": 'q"uote'}},
            "spec": {"serviceAccountName": "sa", "volumes": volumes,
                     "containers": [{"name": "main", "volumeMounts": mounts or [],
                                     "resources": {"limits": {"memory": "64Mi"}}}]}}


@pytest.fixture
def pods(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "pods"
    root.mkdir()
    yield root
    leaked = mounts_under(tmp_path)
    unmount_all(tmp_path)
    assert not leaked, f"mounts left behind: {leaked}"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def vol_dir(root: Path, plugin: str, name: str) -> Path:
    return root / UID / "volumes" / f"kubernetes.io~{plugin}" / name


def generation(d: Path) -> str:
    return os.readlink(d / "..data")


def test_configmap_volume_layout_modes_and_items(pods: Path) -> None:
    lookup = Lookup()
    lookup.set_configmap("cfg", {"app.conf": "port=80\n", "other": "x"}, binary={"blob": b"\x00\xff"})
    vm = VolumeManager(pods)
    pod = make_pod([
        {"name": "all", "configMap": {"name": "cfg"}},
        {"name": "some", "configMap": {"name": "cfg", "defaultMode": 0o600,
                                       "items": [{"key": "app.conf", "path": "etc/app/app.conf"},
                                                 {"key": "blob", "path": "blob.bin", "mode": 0o444}]}},
    ])
    run(vm.setup(pod, lookup))
    d = vol_dir(pods, "configmap", "all")
    assert re.fullmatch(r"\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+", generation(d))
    assert sorted(os.listdir(d)) == sorted(["..data", generation(d), "app.conf", "other", "blob"])
    for key in ("app.conf", "other", "blob"):
        assert os.readlink(d / key) == f"..data/{key}"
    assert (d / "app.conf").read_text() == "port=80\n" and (d / "blob").read_bytes() == b"\x00\xff"
    assert stat.S_IMODE(os.stat(d / "other").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(d / generation(d)).st_mode) == 0o755
    d2 = vol_dir(pods, "configmap", "some")
    assert sorted(p for p in os.listdir(d2) if not p.startswith("..")) == ["blob.bin", "etc"]
    assert os.readlink(d2 / "etc") == "..data/etc"
    assert (d2 / "etc/app/app.conf").read_text() == "port=80\n"
    assert stat.S_IMODE(os.stat(d2 / "etc/app/app.conf").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d2 / "blob.bin").st_mode) == 0o444
    assert not mounts_under(pods)  # configMap content is on the pods dir's own filesystem
    run(vm.setup(pod, lookup))  # again: nothing changes
    assert vm.pod_uids() == [UID]
    vm.teardown(UID)
    assert vm.pod_uids() == [] and not (pods / UID).exists()


def test_refresh_swaps_content_and_prunes_removed_keys(pods: Path) -> None:
    lookup = Lookup()
    lookup.set_configmap("cfg", {"a": "1", "b": "2"})
    vm = VolumeManager(pods)
    pod = make_pod([{"name": "c", "configMap": {"name": "cfg"}}])
    run(vm.setup(pod, lookup))
    d = vol_dir(pods, "configmap", "c")
    first = generation(d)
    assert run(vm.refresh(pod, lookup)) is False and generation(d) == first

    lookup.set_configmap("cfg", {"a": "one", "c": "3"})
    assert run(vm.refresh(pod, lookup)) is True
    assert generation(d) != first and not (d / first).exists()
    assert (d / "a").read_text() == "one" and (d / "c").read_text() == "3"
    assert not os.path.lexists(d / "b")
    assert sorted(os.listdir(d)) == sorted(["..data", generation(d), "a", "c"])

    lookup.set_configmap("cfg", {"a": "one"})  # only a removal is a change too
    assert run(vm.refresh(pod, lookup)) is True and not os.path.lexists(d / "c")

    del lookup.configmaps["cfg"]  # a vanished source keeps the last content and says why
    with pytest.raises(VolumeNotFound, match='configmap "cfg" not found'):
        run(vm.refresh(pod, lookup))
    assert (d / "a").read_text() == "one"
    vm.teardown(UID)


def test_readers_see_old_or_new_content_never_a_mix(pods: Path) -> None:
    size = 4 << 20
    versions = [bytes([65 + i]) * size for i in range(6)]
    lookup = Lookup()
    lookup.set_secret("s", {"big": versions[0]})
    vm = VolumeManager(pods)
    pod = make_pod([{"name": "s", "secret": {"secretName": "s"}}])
    run(vm.setup(pod, lookup))
    path = vol_dir(pods, "secret", "s") / "big"
    seen: set[bytes] = set()
    bad: list[bytes] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                # The old generation was removed between resolving ..data and opening: read again.
                continue
            if data in versions:
                seen.add(data[:1])
            else:
                bad.append(data[:1] + data[-1:] + str(len(data)).encode())

    t = threading.Thread(target=reader)
    t.start()
    try:
        for v in versions[1:]:
            lookup.set_secret("s", {"big": v})
            assert run(vm.refresh(pod, lookup)) is True
            while v[:1] not in seen:  # let the reader catch up with each version
                time.sleep(0.001)
    finally:
        stop.set()
        t.join()
    assert not bad
    assert seen == {v[:1] for v in versions[1:]} | (seen & {versions[0][:1]})
    vm.teardown(UID)


def test_secret_and_projected_volumes_live_on_their_own_tmpfs(pods: Path) -> None:
    lookup = Lookup()
    lookup.set_secret("creds", {"password": b"hunter2", "user": b"admin"})
    lookup.set_configmap("cfg", {"ca.crt": "CERT"})
    vm = VolumeManager(pods, node_allocatable={"cpu": "2", "memory": "1Gi", "ephemeral-storage": "10Gi"})
    pod = make_pod([
        {"name": "creds", "secret": {"secretName": "creds", "defaultMode": 0o400}},
        {"name": "kube-api-access", "projected": {"defaultMode": 0o644, "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "cfg", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"secret": {"name": "creds", "items": [{"key": "user", "path": "auth/user"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}},
                                       {"path": "mem", "resourceFieldRef": {"containerName": "main",
                                                                            "resource": "limits.memory",
                                                                            "divisor": "1Mi"}}]}},
        ]}},
    ])
    run(vm.setup(pod, lookup))
    sec = vol_dir(pods, "secret", "creds")
    proj = vol_dir(pods, "projected", "kube-api-access")
    with open("/proc/self/mountinfo") as f:
        fstypes = {line.split()[4]: line.split(" - ")[1].split()[0] for line in f}
    assert fstypes.get(str(sec)) == "tmpfs" and fstypes.get(str(proj)) == "tmpfs"
    assert (sec / "password").read_bytes() == b"hunter2"
    assert stat.S_IMODE(os.stat(sec / "password").st_mode) == 0o400
    assert (proj / "token").read_text() == "token-for-sa--3607"
    assert (proj / "ca.crt").read_text() == "CERT" and (proj / "auth/user").read_text() == "admin"
    assert (proj / "namespace").read_text() == "ns" and (proj / "mem").read_text() == "64"
    st = os.statvfs(sec)
    assert st.f_blocks * st.f_frsize == 64 << 20  # sized to the pod's memory limit, below the node's
    run(vm.setup(pod, lookup))  # idempotent: the tmpfs is not stacked a second time
    assert mounts_under(sec) == [str(sec)]
    vm.teardown(UID)
    assert not mounts_under(pods) and not (pods / UID).exists()


def test_fs_group_owns_volume_content(pods: Path) -> None:
    lookup = Lookup()
    lookup.set_configmap("cfg", {"a": "1"})
    lookup.set_secret("s", {"key": b"k"})
    vm = VolumeManager(pods)
    pod = make_pod([{"name": "cfg", "configMap": {"name": "cfg", "items": [{"key": "a", "path": "d/a"}]}},
                    {"name": "s", "secret": {"secretName": "s", "defaultMode": 0o400}},
                    {"name": "tok", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
                    {"name": "scratch", "emptyDir": {}}])
    pod["spec"]["securityContext"] = {"fsGroup": 4321}

    def owner(p: Path) -> tuple[int, int]:
        st = os.stat(p)
        return st.st_gid, stat.S_IMODE(st.st_mode)

    run(vm.setup(pod, lookup))
    cfg = vol_dir(pods, "configmap", "cfg")
    assert owner(cfg / "d/a") == (4321, 0o644)
    assert owner(cfg / "d") == (4321, 0o2755) and owner(cfg / generation(cfg)) == (4321, 0o2755)
    assert owner(vol_dir(pods, "secret", "s") / "key") == (4321, 0o440)  # 0400 plus group read
    assert owner(vol_dir(pods, "projected", "tok") / "token") == (4321, 0o640)
    assert owner(vol_dir(pods, "empty-dir", "scratch")) == (4321, 0o2777)
    assert run(vm.refresh(pod, lookup)) is False  # ownership is part of "unchanged"
    vm.teardown(UID)


def test_downward_api_volume(pods: Path) -> None:
    vm = VolumeManager(pods, node_allocatable={"cpu": "4", "memory": "2Gi"})
    pod = make_pod([{"name": "info", "downwardAPI": {"defaultMode": 0o640, "items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}, "mode": 0o600},
        {"path": "meta/name", "fieldRef": {"fieldPath": "metadata.name"}},
        {"path": "cpu", "resourceFieldRef": {"containerName": "main", "resource": "limits.cpu", "divisor": "1m"}},
    ]}}])
    run(vm.setup(pod, Lookup()))
    d = vol_dir(pods, "downward-api", "info")
    assert (d / "labels").read_text() == 'app="web"\nz="last"\n'
    assert (d / "annotations").read_text() == 'a="q\\"uote"\n'
    assert (d / "meta/name").read_text() == "web"
    assert (d / "cpu").read_text() == "4000"  # no limit: the node's allocatable CPUs
    assert stat.S_IMODE(os.stat(d / "labels").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(d / "annotations").st_mode) == 0o600
    pod["metadata"]["labels"]["app"] = "api"
    assert run(vm.refresh(pod, Lookup())) is True
    assert (d / "labels").read_text() == 'app="api"\nz="last"\n'
    vm.teardown(UID)


@pytest.mark.parametrize(("volume", "error", "message"), [
    ({"configMap": {"name": "nope"}}, VolumeNotFound, 'configmap "nope" not found'),
    ({"secret": {"secretName": "nope"}}, VolumeNotFound, 'secret "nope" not found'),
    ({"configMap": {"name": "cfg", "items": [{"key": "k", "path": "k"}]}}, VolumeInvalid,
     "configmap references non-existent config key: k"),
    ({"secret": {"secretName": "s", "items": [{"key": "k", "path": "k"}]}}, VolumeInvalid,
     "references non-existent secret key: k"),
    ({"configMap": {"name": "cfg", "items": [{"key": "a", "path": "../escape"}]}}, VolumeInvalid,
     "invalid path: must not contain '..': ../escape"),
    ({"projected": {"sources": [{"configMap": {"name": "x"}}, {"secret": {"name": "y"}}]}}, VolumeNotFound,
     '[configmap "x" not found, secret "y" not found]'),
    ({"downwardAPI": {"items": [{"path": "p", "fieldRef": {"fieldPath": "spec.nodeName"}}]}}, VolumeInvalid,
     "unsupported fieldPath: spec.nodeName"),
    ({"projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}, VolumeInvalid,
     "service account tokens are not available on this node"),
    ({"persistentVolumeClaim": {"claimName": "data"}}, VolumeInvalid,
     "volume type 'persistentVolumeClaim' is not supported on this node"),
    ({"hostPath": {"path": "relative/dir"}}, VolumeInvalid, "hostPath 'relative/dir' must be an absolute path"),
    ({"configMap": {"name": "cfg", "defaultMode": "rw"}}, VolumeInvalid,
     "invalid mode 'rw': must be a number between 0 and 0777 (octal), both inclusive"),
    ({"emptyDir": {"medium": "Memory", "sizeLimit": "lots"}}, VolumeInvalid,
     "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': 'lots'"),
])
def test_volume_errors_use_the_kubelet_wording(pods: Path, volume: dict[str, Any], error: type[Exception],
                                                message: str) -> None:
    lookup = ObjectsOnly()
    lookup.set_configmap("cfg", {"a": "1"})
    lookup.set_secret("s", {"a": b"1"})
    vm = VolumeManager(pods)
    pod = make_pod([{"name": "v", **volume}, {"name": "fine", "emptyDir": {}}])
    with pytest.raises(error) as info:
        run(vm.setup(pod, lookup))
    assert str(info.value) == f'MountVolume.SetUp failed for volume "v" : {message}'
    assert (pods / UID / "volumes/kubernetes.io~empty-dir/fine").is_dir()  # the others are still made
    vm.teardown(UID)


def test_optional_sources_make_empty_or_partial_volumes(pods: Path) -> None:
    lookup = Lookup()
    lookup.set_configmap("cfg", {"a": "1"})
    vm = VolumeManager(pods)
    pod = make_pod([
        {"name": "gone", "configMap": {"name": "nope", "optional": True}},
        {"name": "part", "configMap": {"name": "cfg", "optional": True,
                                       "items": [{"key": "a", "path": "a"}, {"key": "b", "path": "b"}]}},
    ])
    run(vm.setup(pod, lookup))
    assert os.path.islink(vol_dir(pods, "configmap", "gone") / "..data")
    assert [p for p in os.listdir(vol_dir(pods, "configmap", "gone")) if not p.startswith("..")] == []
    assert [p for p in os.listdir(vol_dir(pods, "configmap", "part")) if not p.startswith("..")] == ["a"]
    lookup.set_configmap("nope", {"late": "arrival"})
    assert run(vm.refresh(pod, lookup)) is True
    assert (vol_dir(pods, "configmap", "gone") / "late").read_text() == "arrival"
    vm.teardown(UID)


def test_empty_dirs(pods: Path) -> None:
    vm = VolumeManager(pods)
    pod = make_pod([{"name": "scratch", "emptyDir": {}},
                    {"name": "ram", "emptyDir": {"medium": "Memory", "sizeLimit": "4Mi"}}])
    run(vm.setup(pod, Lookup()))
    scratch, ram = vol_dir(pods, "empty-dir", "scratch"), vol_dir(pods, "empty-dir", "ram")
    assert stat.S_IMODE(os.stat(scratch).st_mode) == 0o777 and stat.S_IMODE(os.stat(ram).st_mode) == 0o777
    assert mounts_under(pods) == [str(ram)]
    st = os.statvfs(ram)
    assert st.f_blocks * st.f_frsize == 4 << 20
    (scratch / "kept").write_text("x")
    run(vm.setup(pod, Lookup()))
    assert (scratch / "kept").read_text() == "x" and mounts_under(pods) == [str(ram)]
    vm.teardown(UID)
    assert not mounts_under(pods)


def test_host_path_types(pods: Path, tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "file").write_text("f")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(host / "sock"))
    vm = VolumeManager(pods)

    def setup(path: Path | str, kind: str) -> None:
        run(vm.setup(make_pod([{"name": "h", "hostPath": {"path": str(path), "type": kind}}]), Lookup()))

    try:
        setup(host / "new/deep", "DirectoryOrCreate")
        assert stat.S_IMODE(os.stat(host / "new/deep").st_mode) == 0o755
        setup(host / "created", "FileOrCreate")
        assert (host / "created").read_text() == ""
        for path, kind in [(host, "Directory"), (host / "file", "File"), (host / "sock", "Socket"),
                           ("/dev/null", "CharDevice"), (host / "file", "FileOrCreate"), (host / "x", ""),
                           (host, "DirectoryOrCreate")]:
            setup(path, kind)
        for path, kind, message in [
            (host / "file", "Directory", f"hostPath type check failed: {host}/file is not a directory"),
            (host / "missing", "Directory", f"hostPath type check failed: {host}/missing is not a directory"),
            (host, "File", f"hostPath type check failed: {host} is not a file"),
            (host / "file", "DirectoryOrCreate", f"hostPath type check failed: {host}/file is not a directory"),
            (host / "file", "Socket", f"hostPath type check failed: {host}/file is not a socket file"),
            (host / "file", "CharDevice", f"hostPath type check failed: {host}/file is not a character device"),
            ("/dev/null", "BlockDevice", "hostPath type check failed: /dev/null is not a block device"),
            (host / "no/parent", "FileOrCreate", None),
            (host, "Folder", "Folder is an invalid volume type"),
        ]:
            with pytest.raises(VolumeInvalid) as info:
                setup(path, kind)
            assert info.value.volume == "h"
            if message is not None:
                assert info.value.detail == message
        assert not (host / "no").exists()  # FileOrCreate never makes the parent directory
    finally:
        sock.close()
        vm.teardown(UID)


def test_mounts_for_containers(pods: Path, tmp_path: Path) -> None:
    lookup = Lookup()
    lookup.set_configmap("cfg", {"app.conf": "v1"})
    (tmp_path / "logs").mkdir()
    vm = VolumeManager(pods)
    mounts = [
        {"name": "made", "mountPath": "/var/log/app"},  # listed first, mounted after its parent
        {"name": "cfg", "mountPath": "/etc/app", "readOnly": True},
        {"name": "cfg", "mountPath": "/etc/app.conf", "subPath": "app.conf"},
        {"name": "logs", "mountPath": "/var/log", "mountPropagation": "HostToContainer"},
        {"name": "scratch", "mountPath": "/work", "subPathExpr": "$(POD_NAME)/out"},
    ]
    pod = make_pod([{"name": "cfg", "configMap": {"name": "cfg"}},
                    {"name": "logs", "hostPath": {"path": str(tmp_path / "logs")}},
                    {"name": "scratch", "emptyDir": {}},
                    {"name": "made", "hostPath": {"path": str(tmp_path / "made/by/us")}}], mounts)
    run(vm.setup(pod, lookup))
    out = vm.mounts_for(pod, pod["spec"]["containers"][0], env=[("POD_NAME", "web")])
    sub = pods / UID / "volume-subpaths"
    assert out == [
        {"destination": "/work", "type": "bind", "source": str(sub / "scratch/main/4"),
         "options": ["rbind", "rprivate", "rw"]},
        {"destination": "/etc/app", "type": "bind", "source": str(vol_dir(pods, "configmap", "cfg")),
         "options": ["rbind", "rprivate", "ro"]},
        {"destination": "/etc/app.conf", "type": "bind", "source": str(sub / "cfg/main/2"),
         "options": ["rbind", "rprivate", "rw"]},
        {"destination": "/var/log", "type": "bind", "source": str(tmp_path / "logs"),
         "options": ["rbind", "rslave", "rw"]},
        {"destination": "/var/log/app", "type": "bind", "source": str(tmp_path / "made/by/us"),
         "options": ["rbind", "rprivate", "rw"]},
    ]
    assert (tmp_path / "made/by/us").is_dir()  # an unchecked hostPath that is missing becomes a directory
    # The subPath binds are the resolved files themselves: the key's content, a fresh directory.
    assert (sub / "cfg/main/2").read_text() == "v1" and (sub / "cfg/main/2").is_file()
    assert (vol_dir(pods, "empty-dir", "scratch") / "web/out").is_dir()
    assert str(sub / "cfg/main/2") in mounts_under(pods)
    # Again, as for a restarted container: the binds are replaced, not stacked.
    vm.mounts_for(pod, pod["spec"]["containers"][0], env=[("POD_NAME", "web")])
    assert len(mounts_under(sub)) == 2
    vm.teardown(UID)
    assert not mounts_under(pods)


def test_mounts_for_rejects_what_cannot_be_mounted(pods: Path) -> None:
    vm = VolumeManager(pods)
    pod = make_pod([{"name": "scratch", "emptyDir": {}}])
    run(vm.setup(pod, Lookup()))
    scratch = vol_dir(pods, "empty-dir", "scratch")
    os.symlink("/etc", scratch / "evil")
    os.symlink("../../../../../../etc", scratch / "evil2")
    cases = [
        ({"name": "nope", "mountPath": "/x"}, 'cannot find volume "nope" to mount into container "main"'),
        ({"name": "scratch", "mountPath": "/x", "subPath": "/abs"}, "error SubPath `/abs` must not be an absolute path"),
        ({"name": "scratch", "mountPath": "/x", "subPath": "a/../../b"},
         "unable to provision SubPath `a/../../b`: must not contain '..'"),
        ({"name": "scratch", "mountPath": "/x", "subPath": "evil"},
         'failed to prepare subPath for volumeMount "scratch" of container "main"'),
        ({"name": "scratch", "mountPath": "/x", "subPath": "evil2/passwd"},
         'failed to prepare subPath for volumeMount "scratch" of container "main"'),
        ({"name": "scratch", "mountPath": "/x", "subPathExpr": "$(NOPE)"}, "missing value for NOPE"),
    ]
    for mount, message in cases:
        with pytest.raises(ConfigError) as info:
            vm.mounts_for(pod, {"name": "main", "volumeMounts": [mount]})
        assert info.value.message == message and info.value.reason == "CreateContainerConfigError"
    assert not mounts_under(pods)
    vm.teardown(UID)
    assert os.path.isdir("/etc")


def test_teardown_of_unknown_or_bad_uid(pods: Path) -> None:
    vm = VolumeManager(pods)
    with pytest.raises(VolumeInvalid, match="invalid volume name '../../escape'"):
        run(vm.setup(make_pod([{"name": "../../escape", "emptyDir": {}}]), Lookup()))
    assert not (pods.parent / "escape").exists()
    vm.teardown("never-existed")
    with pytest.raises(Exception, match="invalid pod uid"):
        vm.teardown("../etc")


def test_projected_file_inside_a_real_container(kenv: Env) -> None:
    pods = kenv.root / "pods"
    lookup = Lookup()
    lookup.set_configmap("cfg", {"greeting": "hello from a configmap"})
    vm = VolumeManager(pods)
    pod = make_pod([{"name": "p", "projected": {"sources": [
        {"configMap": {"name": "cfg"}},
        {"downwardAPI": {"items": [{"path": "podname", "fieldRef": {"fieldPath": "metadata.name"}}]}}]}}])
    engine = Engine(kenv.root, kenv.state / "containers")
    rec = None
    try:
        run(vm.setup(pod, lookup))
        src = vol_dir(pods, "projected", "p")
        rec, _ = engine.run(RunOptions(image="busybox", command=["sh", "-c", "cat /dst/greeting /dst/podname; "
                                                                 "echo; touch /dst/x 2>/dev/null || echo read-only"],
                                       volumes=[f"{src}:/dst:ro"], detach=True))
        exit_ = engine.wait_exit(rec, 30)
        assert exit_ is not None and exit_["exitCode"] == 0
        lines = [line.split(" ", 3)[3] for line in Path(rec.log_path).read_text().splitlines()]
        assert lines[0] == "hello from a configmapweb"
        assert lines[-1] == "read-only"
    finally:
        if rec is not None:
            engine.remove(rec.id, force=True)
        vm.teardown(UID)
