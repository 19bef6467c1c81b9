"""RunOptions.check and build_spec: `docker run` options to an OCI spec by Docker's rules."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from kubelite.containers.specgen import RunOptions, build_spec
from kubelite.errors import Invalid
from kubelite.runtime import seccomp
from kubelite.runtime import spec as oci
from kubelite.runtime.capabilities import NAMES as ALL_CAPS
from kubelite.runtime.capabilities import current as current_caps

CID = "0123456789abcdef" * 4

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
GROUP = "root:x:0:\nstaff:x:50:app\napp:x:1000:\n"


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    return root


@pytest.fixture
def build(rootfs: Path, tmp_path: Path) -> Any:
    """build_spec for an image config (given as its `config` part) and RunOptions keywords."""

    def go(config: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        kw.setdefault("image", "busybox:latest")
        opts = RunOptions(**kw)
        opts.check()
        return build_spec({"config": config if config is not None else {"Cmd": ["sh"]}}, opts, cid=CID,
                          rootfs=str(rootfs), etc_dir=str(tmp_path / "etc"))

    return go


def env_of(spec: dict[str, Any]) -> dict[str, str]:
    env = spec["process"]["env"]
    keys = [e.partition("=")[0] for e in env]
    assert len(keys) == len(set(keys)), f"duplicate variables in {env}"
    return dict(e.partition("=")[::2] for e in env)


# --- RunOptions.check --------------------------------------------------------------------------


def check(**kw: Any) -> None:
    RunOptions(image="busybox", **kw).check()


def test_defaults_pass() -> None:
    check()


@pytest.mark.parametrize("memory", ["lots", "", "-1m", "0", "12q"])
def test_bad_memory(memory: str) -> None:
    with pytest.raises(Invalid, match="invalid memory size"):
        check(memory=memory)


def test_memory_below_6mb() -> None:
    with pytest.raises(Invalid, match="minimum memory limit allowed is 6MB"):
        check(memory="4m")
    check(memory="6m")
    check(memory="1g")


def test_cpus_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    for bad in (0.0, 0.009, 4.01, -1.0):
        with pytest.raises(Invalid) as e:
            check(cpus=bad)
        assert str(e.value) == "range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available"
    for good in (0.01, 0.5, 4.0):
        check(cpus=good)


def test_cpus_range_without_a_cpu_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    check(cpus=1.0)
    with pytest.raises(Invalid, match=re.escape("from 0.01 to 1.00, as there are only 1 CPUs")):
        check(cpus=2.0)


def test_pids_limit_zero() -> None:
    with pytest.raises(Invalid, match="invalid pids limit 0"):
        check(pids_limit=0)
    check(pids_limit=-1)
    check(pids_limit=100)


@pytest.mark.parametrize("env", ["=value", "", " LEADING=1", "\tTAB"])
def test_bad_env_names(env: str) -> None:
    with pytest.raises(Invalid, match="invalid environment variable"):
        check(env=[env])


def test_good_env() -> None:
    check(env=["A=1", "B=", "C", "lower.dots-dash=x=y"])


@pytest.mark.parametrize("volume", ["/data", ":/data", "/data:", "::", "/a:/b:ro:extra"])
def test_volume_syntax(volume: str) -> None:
    with pytest.raises(Invalid, match="invalid volume specification"):
        check(volumes=[volume])


def test_volume_mode(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="invalid mode 'rx'"):
        check(volumes=[f"{tmp_path}:/data:rx"])
    check(volumes=[f"{tmp_path}:/data:ro", f"{tmp_path}:/data2:rw", f"{tmp_path}:/data3"])


@pytest.mark.parametrize("volume", ["data:/data", "./data:/data", "/tmp:data"])
def test_volume_paths_must_be_absolute(volume: str) -> None:
    with pytest.raises(Invalid, match="both paths must be absolute"):
        check(volumes=[volume])


def test_volume_source_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(Invalid, match=f"volume source does not exist: {re.escape(str(missing))}"):
        check(volumes=[f"{missing}:/data"])


def test_relative_workdir() -> None:
    with pytest.raises(Invalid, match="the working directory 'app' is invalid, it needs to be an absolute path"):
        check(workdir="app")
    check(workdir="/app")


# --- build_spec: command and entrypoint -------------------------------------------------------

IMAGE = {"Entrypoint": ["/entry", "-x"], "Cmd": ["default", "cmd"]}


def test_image_entrypoint_and_cmd(build: Any) -> None:
    assert build(IMAGE)["process"]["args"] == ["/entry", "-x", "default", "cmd"]


def test_command_replaces_cmd_and_keeps_entrypoint(build: Any) -> None:
    assert build(IMAGE, command=["mine"])["process"]["args"] == ["/entry", "-x", "mine"]


def test_entrypoint_replaces_entrypoint_and_drops_image_cmd(build: Any) -> None:
    assert build(IMAGE, entrypoint="/bin/sh")["process"]["args"] == ["/bin/sh"]
    assert build(IMAGE, entrypoint="/bin/sh", command=["-c", "true"])["process"]["args"] == ["/bin/sh", "-c", "true"]


def test_empty_entrypoint_clears_it(build: Any) -> None:
    assert build(IMAGE, entrypoint="", command=["ls", "/"])["process"]["args"] == ["ls", "/"]
    with pytest.raises(Invalid, match="no command specified"):
        build(IMAGE, entrypoint="")


def test_no_command_at_all(build: Any) -> None:
    with pytest.raises(Invalid, match="no command specified"):
        build({})
    assert build({"Cmd": ["sh"]})["process"]["args"] == ["sh"]


# --- build_spec: environment ------------------------------------------------------------------


def test_e_overrides_image_env(build: Any) -> None:
    env = env_of(build({"Cmd": ["sh"], "Env": ["A=image", "B=image", "PATH=/img/bin"]}, env=["A=run", "C=run"]))
    assert env["A"] == "run"
    assert env["B"] == "image"
    assert env["C"] == "run"
    assert env["PATH"] == "/img/bin"


def test_bare_e_takes_the_hosts_value_or_unsets(build: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KL_FROM_HOST", "host-value")
    monkeypatch.delenv("KL_UNSET", raising=False)
    env = env_of(build({"Cmd": ["sh"], "Env": ["KL_FROM_HOST=image", "KL_UNSET=image"]},
                       env=["KL_FROM_HOST", "KL_UNSET", "KL_NEVER"]))
    assert env["KL_FROM_HOST"] == "host-value"
    assert "KL_UNSET" not in env
    assert "KL_NEVER" not in env


def test_path_default_comes_first(build: Any) -> None:
    spec = build({"Cmd": ["sh"], "Env": ["A=1"]})
    assert spec["process"]["env"][0] == f"PATH={oci.DEFAULT_PATH}"


def test_home_from_the_users_passwd_entry(build: Any) -> None:
    assert env_of(build())["HOME"] == "/root"
    assert env_of(build(user="app"))["HOME"] == "/home/app"
    assert env_of(build(user="4242"))["HOME"] == "/"
    assert env_of(build(env=["HOME=/elsewhere"]))["HOME"] == "/elsewhere"
    assert env_of(build({"Cmd": ["sh"], "Env": ["HOME=/img"]}))["HOME"] == "/img"


def test_hostname_variable(build: Any) -> None:
    assert env_of(build())["HOSTNAME"] == CID[:12]
    assert env_of(build(hostname="box"))["HOSTNAME"] == "box"
    # a default like PATH: -e and the image's Env win, and the variable appears once
    assert env_of(build(hostname="box", env=["HOSTNAME=mine"]))["HOSTNAME"] == "mine"
    assert env_of(build({"Cmd": ["sh"], "Env": ["HOSTNAME=img"]}))["HOSTNAME"] == "img"


def test_term_only_with_a_tty(build: Any) -> None:
    assert "TERM" not in env_of(build())
    spec = build(tty=True)
    assert env_of(spec)["TERM"] == "xterm"
    assert spec["process"]["terminal"] is True
    assert env_of(build(tty=True, env=["TERM=dumb"]))["TERM"] == "dumb"


# --- build_spec: user, cwd, root --------------------------------------------------------------


def test_user_from_image_and_u(build: Any) -> None:
    assert build()["process"]["user"] == {"uid": 0, "gid": 0}
    image = {"Cmd": ["sh"], "User": "app"}
    assert build(image)["process"]["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [50]}
    assert build(image, user="0")["process"]["user"] == {"uid": 0, "gid": 0}
    assert build(image, user="app:staff")["process"]["user"] == {"uid": 1000, "gid": 50}
    # an empty -u leaves the image's user, as Docker's config merge does
    assert build(image, user="")["process"]["user"]["uid"] == 1000


def test_unknown_user_is_invalid(build: Any) -> None:
    with pytest.raises(Invalid, match="unable to find user nobody: no matching entries in passwd file"):
        build(user="nobody")
    with pytest.raises(Invalid, match="unable to find user ghost"):
        build({"Cmd": ["sh"], "User": "ghost"})


def test_working_directory(build: Any) -> None:
    assert build()["process"]["cwd"] == "/"
    assert build({"Cmd": ["sh"], "WorkingDir": "/srv"})["process"]["cwd"] == "/srv"
    assert build({"Cmd": ["sh"], "WorkingDir": "/srv"}, workdir="/tmp")["process"]["cwd"] == "/tmp"


def test_root_cgroup_and_annotations(build: Any, rootfs: Path) -> None:
    spec = build(read_only=True, labels={"team": "a"})
    assert spec["root"] == {"path": str(rootfs), "readonly": True}
    assert spec["linux"]["cgroupsPath"] == f"/kubelite/{CID}"
    assert spec["annotations"] == {"org.opencontainers.image.ref.name": "busybox:latest", "team": "a"}
    assert build()["root"]["readonly"] is False


# --- build_spec: resources --------------------------------------------------------------------


def test_no_limits_by_default(build: Any) -> None:
    res = build()["linux"]["resources"]
    assert set(res) == {"devices"}
    assert res["devices"] == [{"allow": False, "access": "rwm"}]


def test_memory_limit_and_no_extra_swap(build: Any) -> None:
    res = build(memory="64m")["linux"]["resources"]
    assert res["memory"] == {"limit": 64 * 1024 * 1024, "swap": 64 * 1024 * 1024}


@pytest.mark.parametrize(("cpus", "quota"), [(1.5, 150000), (0.29, 29000), (0.01, 1000), (1.0, 100000)])
def test_cpus_to_quota_and_period(build: Any, cpus: float, quota: int) -> None:
    assert build(cpus=cpus)["linux"]["resources"]["cpu"] == {"period": 100000, "quota": quota}


def test_cpu_shares_and_pids(build: Any) -> None:
    res = build(cpu_shares=512, pids_limit=64)["linux"]["resources"]
    assert res["cpu"] == {"shares": 512}
    assert res["pids"] == {"limit": 64}


# --- build_spec: mounts, hostname and hosts files ---------------------------------------------


def test_volumes_are_rbind_mounts(build: Any, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    mounts = build(volumes=[f"{src}:/data", f"{tmp_path}/./src:/ro:ro"])["mounts"]
    assert mounts[-2:] == [
        {"destination": "/data", "type": "bind", "source": str(src), "options": ["rbind", "rprivate"]},
        {"destination": "/ro", "type": "bind", "source": str(src), "options": ["rbind", "rprivate", "ro"]},
    ]


def test_hostname_and_hosts_files(build: Any, tmp_path: Path) -> None:
    spec = build(hostname="box")
    etc = tmp_path / "etc"
    assert spec["hostname"] == "box"
    assert (etc / "hostname").read_text() == "box\n"
    hosts = (etc / "hosts").read_text().splitlines()
    assert "127.0.0.1\tlocalhost" in hosts
    assert "127.0.1.1\tbox" in hosts
    for name in ("hostname", "hosts"):
        assert {"destination": f"/etc/{name}", "type": "bind", "source": str(etc / name),
                "options": ["rbind", "rprivate"]} in spec["mounts"]


def test_default_hostname_is_the_short_id(build: Any, tmp_path: Path) -> None:
    assert build()["hostname"] == CID[:12]
    assert (tmp_path / "etc" / "hostname").read_text() == CID[:12] + "\n"


# --- build_spec: privileges -------------------------------------------------------------------


def caps_of(spec: dict[str, Any]) -> list[str]:
    c = spec["process"]["capabilities"]
    assert c["bounding"] == c["effective"] == c["permitted"]
    return list(c["bounding"])


def test_default_capabilities_seccomp_and_masks(build: Any) -> None:
    spec = build()
    assert caps_of(spec) == sorted(oci.DEFAULT_CAPS)
    assert spec["process"]["noNewPrivileges"] is True
    assert spec["linux"]["seccomp"]["defaultAction"]
    assert spec["linux"]["maskedPaths"] == oci.MASKED_PATHS
    assert spec["linux"]["readonlyPaths"] == oci.READONLY_PATHS


def test_privileged_drops_masks_and_seccomp(build: Any) -> None:
    spec = build(privileged=True)
    assert caps_of(spec) == sorted(current_caps()["bounding"])
    assert spec["process"]["noNewPrivileges"] is False
    assert "seccomp" not in spec["linux"]
    assert spec["linux"]["maskedPaths"] == []
    assert spec["linux"]["readonlyPaths"] == []
    assert "devices" not in spec["linux"]["resources"]


def test_cap_add_and_drop_accept_either_spelling(build: Any) -> None:
    caps = caps_of(build(cap_add=["NET_ADMIN", "cap_sys_time"], cap_drop=["CHOWN", "Cap_Kill"]))
    assert caps == sorted({*oci.DEFAULT_CAPS, "CAP_NET_ADMIN", "CAP_SYS_TIME"} - {"CAP_CHOWN", "CAP_KILL"})


def test_cap_drop_all_then_add(build: Any) -> None:
    assert caps_of(build(cap_drop=["ALL"])) == []
    assert caps_of(build(cap_drop=["all"], cap_add=["NET_BIND_SERVICE"])) == ["CAP_NET_BIND_SERVICE"]


def test_cap_add_all_then_drop(build: Any) -> None:
    assert caps_of(build(cap_add=["ALL"])) == sorted(ALL_CAPS)
    assert caps_of(build(cap_add=["ALL"], cap_drop=["SYS_ADMIN"])) == sorted(set(ALL_CAPS) - {"CAP_SYS_ADMIN"})


def test_seccomp_follows_the_capabilities(build: Any) -> None:
    spec = build(cap_add=["SYS_ADMIN"])
    assert spec["linux"]["seccomp"] == seccomp.default_profile(caps_of(spec))


@pytest.mark.parametrize("kw", [{"cap_add": ["FOO"]}, {"cap_drop": ["CAP_NOPE"]}])
def test_unknown_capability_is_invalid(build: Any, kw: dict[str, list[str]]) -> None:
    with pytest.raises(Invalid, match="unknown capability"):
        build(**kw)


def test_spec_is_json_serialisable(build: Any) -> None:
    spec = build(memory="64m", cpus=0.5, pids_limit=10, cap_add=["ALL"], volumes=["/tmp:/t:ro"])
    assert json.loads(json.dumps(spec)) == spec
