"""Pod volumes on a node: configMap, secret, emptyDir, hostPath, downwardAPI and projected."""

from kubelite.agent.config.volumes.manager import VolumeManager, volume_kind

__all__ = ["VolumeManager", "volume_kind"]
