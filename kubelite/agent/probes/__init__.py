"""Probes and lifecycle hooks of a pod's containers, as the kubelet runs them.

``execsync`` runs a command in a running container and collects its output;
``prober`` makes one probe check (exec, HTTP GET, TCP connect inside the pod's
network namespace); ``worker`` repeats a check on the probe's schedule and
applies its thresholds; ``lifecycle`` runs postStart and preStop hooks and
stops a container gracefully. The pod workers own the containers: these
modules only report (callbacks, return values) and never restart anything.
"""
