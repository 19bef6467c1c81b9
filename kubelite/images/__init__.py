"""Images: content store, manifests, archives, layer unpacking, overlay snapshots (see docs/images.md)."""
