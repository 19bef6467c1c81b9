"""`kubelite oci`: the runc lifecycle on a bundle that `runc spec` wrote."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.conftest import Env

pytestmark = pytest.mark.root


def _set_args(bundle: Path, args: list[str], **process: object) -> None:
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["args"] = args
    spec["process"]["terminal"] = False
    spec["process"].update(process)
    (bundle / "config.json").write_text(json.dumps(spec))


def _state(kenv: Env, root: str, cid: str) -> dict[str, object]:
    return dict(json.loads(kenv.ok("oci", "--root", root, "state", cid)))


def test_lifecycle_create_start_kill_delete(kenv: Env, busybox_bundle: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "oci")
    _set_args(busybox_bundle, ["sleep", "300"])
    pid_file = tmp_path / "pid"
    kenv.ok("oci", "--root", root, "create", "--bundle", str(busybox_bundle), "--pid-file", str(pid_file), "c1")
    st = _state(kenv, root, "c1")
    assert st["status"] == "created"
    assert st["pid"] == int(pid_file.read_text())
    assert st["bundle"] == str(busybox_bundle)
    # Before start the process is our init, not yet the program.
    assert "sleep" not in Path(f"/proc/{st['pid']}/cmdline").read_text()

    kenv.ok("oci", "--root", root, "start", "c1")
    assert _state(kenv, root, "c1")["status"] == "running"
    assert Path(f"/proc/{st['pid']}/cmdline").read_bytes().split(b"\0")[0] == b"sleep"
    listing = kenv.ok("oci", "--root", root, "list")
    assert "c1" in listing and "running" in listing

    again = kenv.run("oci", "--root", root, "start", "c1")
    assert again.returncode != 0 and len(again.stderr.strip().splitlines()) == 1

    busy = kenv.run("oci", "--root", root, "delete", "c1")
    assert busy.returncode != 0 and "not stopped" in busy.stderr

    kenv.ok("oci", "--root", root, "kill", "c1", "KILL")
    deadline = time.monotonic() + 10
    while _state(kenv, root, "c1")["status"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _state(kenv, root, "c1")["status"] == "stopped"
    kenv.ok("oci", "--root", root, "delete", "c1")
    missing = kenv.run("oci", "--root", root, "state", "c1")
    assert missing.returncode != 0
    assert missing.stderr.strip() == "kubelite: container 'c1' does not exist"


def test_run_returns_exit_code_and_isolates(kenv: Env, busybox_bundle: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "oci")
    _set_args(busybox_bundle, ["sh", "-c", "echo pid=$$ host=$(hostname); ls /; exit 7"])
    res = kenv.run("oci", "--root", root, "run", "--bundle", str(busybox_bundle), "r1")
    assert res.returncode == 7, res.stderr
    assert "pid=1 host=runc" in res.stdout
    assert "work" not in res.stdout.split()
    assert not os.path.exists(os.path.join(root, "r1"))


def test_delete_force_running(kenv: Env, busybox_bundle: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "oci")
    _set_args(busybox_bundle, ["sleep", "300"])
    kenv.ok("oci", "--root", root, "run", "-d", "--bundle", str(busybox_bundle), "f1")
    pid = _state(kenv, root, "f1")["pid"]
    kenv.ok("oci", "--root", root, "delete", "--force", "f1")
    assert not os.path.exists(f"/proc/{pid}/cmdline") or b"sleep" not in Path(f"/proc/{pid}/cmdline").read_bytes()


def test_exec_into_running(kenv: Env, busybox_bundle: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "oci")
    _set_args(busybox_bundle, ["sleep", "300"])
    kenv.ok("oci", "--root", root, "run", "-d", "--bundle", str(busybox_bundle), "e1")
    try:
        res = kenv.run("oci", "--root", root, "exec", "e1", "sh", "-c", "ps -o pid,args; hostname; exit 3")
        assert res.returncode == 3, res.stderr
        assert "1 sleep 300" in res.stdout
        assert "runc" in res.stdout
    finally:
        kenv.ok("oci", "--root", root, "delete", "--force", "e1")


@pytest.mark.parametrize("args, message", [
    (["create", "--bundle", "/nonexistent", "x"], "bundle not found: /nonexistent"),
    (["start", "nope"], "container 'nope' does not exist"),
    (["kill", "nope"], "container 'nope' does not exist"),
    (["create", "--bundle", ".", "bad/id"], ""),
])
def test_errors_are_one_line(kenv: Env, tmp_path: Path, args: list[str], message: str) -> None:
    res = kenv.run("oci", "--root", str(tmp_path / "oci"), *args)
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kubelite: ")
    assert message in lines[0]


def test_duplicate_id_rejected(kenv: Env, busybox_bundle: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "oci")
    _set_args(busybox_bundle, ["sleep", "300"])
    kenv.ok("oci", "--root", root, "create", "--bundle", str(busybox_bundle), "d1")
    try:
        res = kenv.run("oci", "--root", root, "create", "--bundle", str(busybox_bundle), "d1")
        assert res.returncode != 0 and "already exists" in res.stderr
        assert _state(kenv, root, "d1")["status"] == "created"
    finally:
        kenv.ok("oci", "--root", root, "delete", "--force", "d1")


def test_spec_writes_a_runnable_default(kenv: Env, tmp_path: Path, busybox_bundle: Path) -> None:
    (busybox_bundle / "config.json").unlink()
    kenv.ok("oci", "spec", "--bundle", str(busybox_bundle))
    spec = json.loads((busybox_bundle / "config.json").read_text())
    assert spec["process"]["terminal"] is True
    assert "CAP_SYS_ADMIN" not in spec["process"]["capabilities"]["bounding"]
    again = kenv.run("oci", "spec", "--bundle", str(busybox_bundle))
    assert again.returncode != 0 and "exists" in again.stderr


def test_user_namespace_maps_root_to_an_unprivileged_host_uid(kenv: Env, busybox_bundle: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "oci")
    spec = json.loads((busybox_bundle / "config.json").read_text())
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sleep", "300"]
    spec["linux"]["namespaces"].append({"type": "user"})
    mapping = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    spec["linux"]["uidMappings"] = spec["linux"]["gidMappings"] = mapping
    (busybox_bundle / "config.json").write_text(json.dumps(spec))
    # The mapped root must be able to reach its rootfs, as with runc: open up pytest's 0700 directories.
    for parent in [busybox_bundle, *busybox_bundle.parents][:4]:
        parent.chmod(0o755)
    for dirpath, dirnames, filenames in os.walk(busybox_bundle / "rootfs"):
        for n in [dirpath, *(os.path.join(dirpath, f) for f in dirnames + filenames)]:
            os.lchown(n, 100000, 100000)
    kenv.ok("oci", "--root", root, "run", "-d", "--bundle", str(busybox_bundle), "u1")
    try:
        pid = _state(kenv, root, "u1")["pid"]
        uids = Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[:1]
        assert uids == ["100000"]  # root inside is nobody in particular outside
        out = kenv.ok("oci", "--root", root, "exec", "u1", "sh", "-c", "id -u; cat /proc/self/uid_map")
        assert out.split() == ["0", "0", "100000", "65536"]
    finally:
        kenv.ok("oci", "--root", root, "delete", "--force", "u1")


def test_failed_create_leaves_nothing(kenv: Env, busybox_bundle: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "oci")
    _set_args(busybox_bundle, ["true"], cwd="/no/such/dir")
    res = kenv.run("oci", "--root", root, "create", "--bundle", str(busybox_bundle), "bad")
    assert res.returncode != 0
    assert res.stderr.strip().splitlines() == [
        "kubelite: chdir to cwd ('/no/such/dir') set in config.json failed: No such file or directory"]
    assert kenv.ok("oci", "--root", root, "list", "-q") == ""
    _set_args(busybox_bundle, ["no-such-binary"], cwd="/")
    res = kenv.run("oci", "--root", root, "run", "--bundle", str(busybox_bundle), "bad")
    assert res.returncode != 0 and "executable file not found" in res.stderr
    assert kenv.ok("oci", "--root", root, "list", "-q") == ""


def test_hooks_run_with_the_state_on_stdin(kenv: Env, busybox_bundle: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "oci")
    log = tmp_path / "hooks.log"
    spec = json.loads((busybox_bundle / "config.json").read_text())
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sleep", "300"]
    spec["hooks"] = {phase: [{"path": "/bin/sh", "args": ["sh", "-c", f"echo {phase} $(cat) >> {log}"]}]
                     for phase in ("createRuntime", "poststart", "poststop")}
    (busybox_bundle / "config.json").write_text(json.dumps(spec))
    kenv.ok("oci", "--root", root, "create", "--bundle", str(busybox_bundle), "h1")
    kenv.ok("oci", "--root", root, "start", "h1")
    kenv.ok("oci", "--root", root, "delete", "--force", "h1")
    lines = log.read_text().splitlines()
    assert [ln.split()[0] for ln in lines] == ["createRuntime", "poststart", "poststop"]
    first = json.loads(lines[0].split(" ", 1)[1])
    assert first["id"] == "h1" and first["status"] == "created" and first["pid"] > 0
    assert json.loads(lines[1].split(" ", 1)[1])["status"] == "running"
    assert json.loads(lines[2].split(" ", 1)[1])["status"] == "stopped"


def test_failing_create_hook_fails_create(kenv: Env, busybox_bundle: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "oci")
    _set_args(busybox_bundle, ["sleep", "300"])
    spec = json.loads((busybox_bundle / "config.json").read_text())
    spec["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}]}
    (busybox_bundle / "config.json").write_text(json.dumps(spec))
    res = kenv.run("oci", "--root", root, "create", "--bundle", str(busybox_bundle), "h2")
    assert res.returncode != 0
    assert res.stderr.strip() == "kubelite: createRuntime hook /bin/sh exited with 3: nope"
    assert kenv.ok("oci", "--root", root, "list", "-q") == ""
