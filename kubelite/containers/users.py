"""Resolving `-u name:group` and an image's User against the container's own /etc files.

Docker resolves users inside the image, not on the host: a name that the
image's /etc/passwd lacks is an error, a number is taken as is, and the
user's supplementary groups come from the image's /etc/group.
"""

from __future__ import annotations

from typing import Any

from kubelite.errors import Invalid
from kubelite.runtime.rootfs import secure_join


def _read_db(rootfs: str, name: str) -> list[list[str]]:
    try:
        with open(secure_join(rootfs, f"/etc/{name}"), errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip() and not line.startswith("#")]
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []


def resolve_user(rootfs: str, spec: str) -> dict[str, Any]:
    """'user', 'uid', 'user:group', 'uid:gid' -> the OCI process.user dict."""
    if not spec:
        spec = "0"
    user, _, group = spec.partition(":")
    passwd = _read_db(rootfs, "passwd")
    groups = _read_db(rootfs, "group")
    uid: int | None = None
    gid: int | None = None
    name = None
    if user.isdigit():
        uid = int(user)
        for entry in passwd:
            if len(entry) > 3 and entry[2] == user:
                name, gid = entry[0], int(entry[3]) if entry[3].isdigit() else 0
                break
    else:
        for entry in passwd:
            if entry[0] == user and len(entry) > 3:
                name, uid, gid = user, int(entry[2]), int(entry[3])
                break
        if uid is None:
            raise Invalid(f"unable to find user {user}: no matching entries in passwd file")
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            match = [e for e in groups if e[0] == group and len(e) > 2]
            if not match:
                raise Invalid(f"unable to find group {group}: no matching entries in group file")
            gid = int(match[0][2])
    if gid is None:
        gid = 0
    # As runc's GetExecUser: supplementary groups only in the implicit form; `user:group` sets exactly one.
    extra = sorted({int(e[2]) for e in groups
                    if not group and name and len(e) > 3 and name in e[3].split(",") and e[2].isdigit()
                    and int(e[2]) != gid})
    out: dict[str, Any] = {"uid": uid, "gid": gid}
    if extra:
        out["additionalGids"] = extra
    return out


def home_of(rootfs: str, uid: int) -> str:
    for entry in _read_db(rootfs, "passwd"):
        if len(entry) > 5 and entry[2] == str(uid):
            return entry[5] or "/"
    return "/"


