"""cgroup v2: one unified hierarchy, one module per controller."""

from kubelite.runtime.cgroups.v2.manager import CONTROLLERS, V2Manager

__all__ = ["CONTROLLERS", "V2Manager"]
