"""cgroup v1: one hierarchy per controller, one module per controller."""

from kubelite.runtime.cgroups.v1.manager import HIERARCHIES, V1Manager

__all__ = ["HIERARCHIES", "V1Manager"]
