"""User resolution against a rootfs's own /etc/passwd and /etc/group, as Docker (runc) does it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubelite.containers.users import home_of, resolve_user
from kubelite.errors import Invalid

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
# a comment line
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1000:App:/home/app:/bin/sh
nohome:x:1001:1001:::/bin/sh
"""

GROUP = """\
root:x:0:
daemon:x:1:
wheel:x:10:root,app
staff:x:50:other,app
app:x:1000:app
nohome:x:1001:
"""


def make_rootfs(root: Path, passwd: str = PASSWD, group: str = GROUP) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(passwd)
    (root / "etc" / "group").write_text(group)
    return root


@pytest.fixture
def rootfs(tmp_path: Path) -> str:
    return str(make_rootfs(tmp_path / "rootfs"))


def test_empty_spec_is_root(rootfs: str) -> None:
    assert resolve_user(rootfs, "") == {"uid": 0, "gid": 0, "additionalGids": [10]}


def test_name_takes_uid_gid_and_supplementary_groups(rootfs: str) -> None:
    # app is listed in wheel, staff and its own primary group; the primary one is not repeated
    assert resolve_user(rootfs, "app") == {"uid": 1000, "gid": 1000, "additionalGids": [10, 50]}


def test_user_without_supplementary_groups(rootfs: str) -> None:
    assert resolve_user(rootfs, "daemon") == {"uid": 1, "gid": 1}


def test_number_in_passwd_is_that_user(rootfs: str) -> None:
    assert resolve_user(rootfs, "1000") == {"uid": 1000, "gid": 1000, "additionalGids": [10, 50]}


def test_number_not_in_passwd_is_taken_as_is_with_gid_0(rootfs: str) -> None:
    assert resolve_user(rootfs, "4242") == {"uid": 4242, "gid": 0}


def test_user_and_group_names(rootfs: str) -> None:
    # the explicit form sets exactly one group, as runc does: no supplementary groups
    assert resolve_user(rootfs, "app:staff") == {"uid": 1000, "gid": 50}


def test_uid_and_gid_numbers(rootfs: str) -> None:
    assert resolve_user(rootfs, "1000:50") == {"uid": 1000, "gid": 50}
    assert resolve_user(rootfs, "4242:4343") == {"uid": 4242, "gid": 4343}
    assert resolve_user(rootfs, "app:4343") == {"uid": 1000, "gid": 4343}


def test_empty_group_after_colon_is_the_users_own(rootfs: str) -> None:
    assert resolve_user(rootfs, "daemon:") == {"uid": 1, "gid": 1}


def test_missing_user_is_invalid_with_dockers_wording(rootfs: str) -> None:
    with pytest.raises(Invalid) as e:
        resolve_user(rootfs, "nobody")
    assert str(e.value) == "unable to find user nobody: no matching entries in passwd file"


def test_missing_group_is_invalid_with_dockers_wording(rootfs: str) -> None:
    with pytest.raises(Invalid) as e:
        resolve_user(rootfs, "app:nogroup")
    assert str(e.value) == "unable to find group nogroup: no matching entries in group file"


def test_comment_lines_are_not_entries(rootfs: str) -> None:
    with pytest.raises(Invalid, match="unable to find user # a comment line"):
        resolve_user(rootfs, "# a comment line")


def test_without_etc_files_only_numbers_work(tmp_path: Path) -> None:
    rootfs = tmp_path / "empty"
    rootfs.mkdir()
    assert resolve_user(str(rootfs), "") == {"uid": 0, "gid": 0}
    assert resolve_user(str(rootfs), "1000:1000") == {"uid": 1000, "gid": 1000}
    with pytest.raises(Invalid, match="unable to find user app"):
        resolve_user(str(rootfs), "app")
    with pytest.raises(Invalid, match="unable to find group staff"):
        resolve_user(str(rootfs), "0:staff")


def test_absolute_symlink_to_passwd_resolves_inside_the_rootfs(tmp_path: Path) -> None:
    # The host has a file at the link's target path with other ids; the image's own copy must win.
    host_passwd = tmp_path / "host" / "passwd"
    host_passwd.parent.mkdir()
    host_passwd.write_text("app:x:4242:4242::/evil:/bin/sh\n")
    rootfs = make_rootfs(tmp_path / "rootfs")
    inside = rootfs / str(host_passwd).lstrip("/")
    inside.parent.mkdir(parents=True)
    inside.write_text("app:x:1000:1000::/home/app:/bin/sh\n")
    (rootfs / "etc" / "passwd").unlink()
    os.symlink(host_passwd, rootfs / "etc" / "passwd")

    assert resolve_user(str(rootfs), "app")["uid"] == 1000
    assert home_of(str(rootfs), 1000) == "/home/app"


def test_relative_symlink_cannot_climb_out_of_the_rootfs(tmp_path: Path) -> None:
    outside = tmp_path / "passwd"
    outside.write_text("intruder:x:4242:4242::/:/bin/sh\n")
    rootfs = make_rootfs(tmp_path / "rootfs")
    (rootfs / "etc" / "passwd").unlink()
    # On the host, rootfs/etc/../../passwd is tmp_path/passwd; inside, ".." stops at the root: /passwd.
    os.symlink("../../passwd", rootfs / "etc" / "passwd")
    assert (rootfs / "etc" / "passwd").resolve() == outside
    with pytest.raises(Invalid, match="unable to find user intruder"):
        resolve_user(str(rootfs), "intruder")
    (rootfs / "passwd").write_text("intruder:x:7:7::/:/bin/sh\n")
    assert resolve_user(str(rootfs), "intruder") == {"uid": 7, "gid": 7}


def test_home_of(rootfs: str) -> None:
    assert home_of(rootfs, 0) == "/root"
    assert home_of(rootfs, 1000) == "/home/app"
    assert home_of(rootfs, 1001) == "/"
    assert home_of(rootfs, 4242) == "/"
