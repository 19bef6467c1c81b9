"""kubelite: a Kubernetes-compatible container orchestrator with its own Linux container runtime."""

__version__ = "0.1.0"
