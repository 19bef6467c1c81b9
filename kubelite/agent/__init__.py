"""The node agent (the kubelet): node registration, pod workers, probes, volumes, the node streaming API."""
