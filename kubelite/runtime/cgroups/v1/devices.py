"""v1 devices controller: the spec's rules, then the runtime's standard devices.

Rules are written in order to devices.allow / devices.deny; a rule of type
"a" for all devices resets the list, so the usual spec (deny everything,
then allow a few) works from any starting state. Like runc, the devices
every container needs (null, zero, full, random, urandom, tty, console,
ptmx, the pts range) and mknod of anything are appended after the spec's
rules, so a spec that only says "deny all" still yields a usable /dev.
"""

from pathlib import Path

from kubelite.runtime.cgroups import fs
from kubelite.runtime.cgroups.resources import Device, Resources

DEFAULT_ALLOWED = (
    Device(True, "c", None, None, "m"),
    Device(True, "b", None, None, "m"),
    *(
        Device(True, "c", major, minor, "rwm")
        for major, minor in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (136, None))
    ),
)


def wants(r: Resources) -> bool:
    return r.devices is not None


def set(d: Path, r: Resources) -> None:
    if r.devices is None:
        return
    for rule in (*r.devices, *DEFAULT_ALLOWED):
        fs.write(d / ("devices.allow" if rule.allow else "devices.deny"), rule.rule())
