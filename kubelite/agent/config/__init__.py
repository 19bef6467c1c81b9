"""Configuration injection for the node agent: container environments and pod volumes.

``envvars.container_env`` resolves a container's environment (and
``command_args`` its command line); ``volumes.VolumeManager`` makes, refreshes,
binds and removes a pod's volumes. Both read ConfigMaps and Secrets through an
``ObjectLookup`` the agent provides, and report failures with the kubelet's
words (``ConfigError``, ``VolumeError``). See docs/agent-config.md.
"""

from kubelite.agent.config.envvars import command_args, container_env, subpath_expr
from kubelite.agent.config.errors import ConfigError, VolumeError, VolumeInvalid, VolumeNotFound
from kubelite.agent.config.lookup import ObjectLookup, TokenLookup
from kubelite.agent.config.volumes import VolumeManager

__all__ = ["ConfigError", "ObjectLookup", "TokenLookup", "VolumeError", "VolumeInvalid", "VolumeManager",
           "VolumeNotFound", "command_args", "container_env", "subpath_expr"]
