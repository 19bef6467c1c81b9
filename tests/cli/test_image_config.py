"""An image's config is honoured: an image re-configured by umoci, imported, then run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Env

pytestmark = pytest.mark.root


def test_entrypoint_cmd_env_workdir_user_labels_ports(kenv: Env, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    kenv.ok("image", "ensure-default")
    kenv.ok("image", "export", "busybox", str(layout), "--format", "oci-dir")
    tags = subprocess.run(["umoci", "ls", "--layout", str(layout)], capture_output=True, text=True, check=True)
    tag = tags.stdout.split()[0]
    subprocess.run([
        "umoci", "config", "--image", f"{layout}:{tag}", "--tag", "configured",
        "--config.entrypoint", "/bin/sh", "--config.entrypoint", "-c",
        "--config.cmd", "echo cmd:$0 user:$(id -u):$(id -g) dir:$(pwd) greeting:$GREETING",
        "--config.env", "GREETING=hello", "--config.workingdir", "/tmp", "--config.user", "1000:1000",
        "--config.label", "team=runtime", "--config.exposedports", "8080/tcp",
    ], check=True)
    kenv.ok("image", "import", str(layout), "--name", "configured")
    images = kenv.ok("images")
    assert "configured" in images

    out = kenv.ok("run", "--rm", "configured:configured")
    assert out.strip() == "cmd:/bin/sh user:1000:1000 dir:/tmp greeting:hello"
    # arguments replace Cmd and keep the Entrypoint; -e, -w and -u override the image
    out = kenv.ok("run", "--rm", "-e", "GREETING=bye", "-w", "/", "-u", "0", "configured:configured",
                  "echo $GREETING $(pwd) $(id -u)")
    assert out.strip() == "bye / 0"
    kenv.ok("run", "--name", "c", "configured:configured")
    info = json.loads(kenv.ok("inspect", "c"))[0]
    assert info["Config"]["Labels"] == {"team": "runtime"}
    assert "8080/tcp" in info["Config"]["ExposedPorts"]
    assert info["Config"]["WorkingDir"] == "/tmp"
    kenv.ok("rm", "c")


def test_export_import_round_trip_keeps_the_image(kenv: Env, tmp_path: Path) -> None:
    kenv.ok("image", "ensure-default")
    for fmt in ("oci-archive", "docker-archive"):
        archive = tmp_path / f"busybox.{fmt}.tar"
        kenv.ok("image", "export", "busybox", str(archive), "--format", fmt)
        kenv.ok("rmi", "busybox")
        loaded = kenv.ok("image", "import", str(archive))
        assert "busybox:latest" in loaded
        assert kenv.ok("run", "--rm", "busybox", "echo", "ok") == "ok\n"


def test_rmi_refuses_an_image_in_use(kenv: Env) -> None:
    kenv.ok("run", "--name", "user", "busybox", "true")
    res = kenv.run("rmi", "busybox")
    assert res.returncode != 0 and len(res.stderr.strip().splitlines()) == 1
    kenv.ok("rm", "user")
    kenv.ok("rmi", "busybox")
    res = kenv.run("rmi", "busybox")
    assert res.returncode != 0 and "not found" in res.stderr
