"""What the rest of kubelite sees of an image: plain dataclasses, no I/O.

``Image`` is resolved once (manifest, config, layers) by the store and then
handed to the snapshotter and the container engine, so neither needs to know
about manifests, media types or indexes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubelite.errors import Invalid
from kubelite.images.manifest import Descriptor, chain_ids, host_platform


@dataclass(frozen=True)
class ImageRecord:
    name: str  # familiar form, e.g. busybox:latest
    digest: str  # manifest digest
    id: str  # config digest (what docker calls the image id)
    created: str
    size: int  # bytes of the (compressed) layers and config


@dataclass(frozen=True)
class Image:
    name: str  # familiar form
    digest: str  # manifest digest
    id: str  # config digest
    config: dict[str, Any]  # the full OCI image config
    diff_ids: list[str]
    layers: list[Descriptor] = field(default_factory=list)

    @property
    def chain_ids(self) -> list[str]:
        return chain_ids(self.diff_ids)

    @property
    def platform(self) -> str:
        p = f"{self.config.get('os', 'linux')}/{self.config.get('architecture', 'unknown')}"
        return p + (f"/{self.config['variant']}" if self.config.get("variant") else "")

    def check_platform(self, want: tuple[str, str] | None = None) -> None:
        """Raise Invalid if this image cannot run on ``want`` (default: this host)."""
        os_name, arch = want or host_platform()
        if (self.config.get("os", "linux"), self.config.get("architecture")) != (os_name, arch):
            raise Invalid(f"image {self.name} is for {self.platform}, this host is {os_name}/{arch}")
