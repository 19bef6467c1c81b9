"""The errors a pod worker turns into container waiting reasons and pod events.

Both carry the kubelet's own wording, because users search for those strings:
``ConfigError`` becomes a container's ``waiting.reason`` (almost always
``CreateContainerConfigError``) with ``message``; a ``VolumeError`` becomes a
``FailedMount`` warning event whose message is ``str(error)``. They subclass the
shared vocabulary (``Invalid``/``NotFound``) so the rest of kubelite can handle
them without knowing this package.
"""

from __future__ import annotations

from kubelite.errors import Invalid, KubeliteError, NotFound, SystemFailure

CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"


class ConfigError(Invalid):
    """A container's environment, command or mounts cannot be resolved (a missing ConfigMap, key, volume...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def config_error(message: str) -> ConfigError:
    return ConfigError(CREATE_CONTAINER_CONFIG_ERROR, message)


class VolumeError(KubeliteError):
    """A volume could not be set up; ``str()`` is the kubelet's FailedMount event message."""

    reason = "FailedMount"

    def __init__(self, volume: str, detail: str) -> None:
        super().__init__(f'MountVolume.SetUp failed for volume "{volume}" : {detail}')
        self.volume = volume
        self.detail = detail


class VolumeNotFound(VolumeError, NotFound):
    """What the volume projects (a ConfigMap, a Secret) does not exist and is not optional."""


class VolumeInvalid(VolumeError, Invalid):
    """The volume is malformed or the host does not match it (a hostPath type check, a missing key)."""


class VolumeSystemFailure(VolumeError, SystemFailure):
    """The kernel refused something while making the volume (a mount, a write on a full tmpfs)."""
