"""Timing knobs of the controllers, in one dataclass every controller reads.

One object rather than per-controller arguments so the manager can build every
controller from the same context, and tests can shorten a period without knowing
which controller uses it. Controllers add their own fields here (with a default
equal to kube-controller-manager's, so a plain ``ControllerOptions()`` behaves like
Kubernetes).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ControllerOptions:
    # Worker tasks per controller (kube-controller-manager's --concurrent-*-syncs; 5 there, 2 cores here).
    workers: int = 2
    # Longest pause between retries of a failing key (the work queue's back-off doubles up to this).
    max_retry_delay: float = 60.0
    # Node lifecycle (F2): how long a node may miss heartbeats before it is NotReady.
    node_monitor_grace_period: float = 40.0
    # Default tolerationSeconds for the not-ready/unreachable taints (DefaultTolerationSeconds admission).
    default_toleration_seconds: int = 300
    # Job (F2): replacements for failed pods wait this long, doubling per failure up to the max (kube: 10 s, 6 min).
    job_backoff_base: float = 10.0
    job_backoff_max: float = 360.0
    # Node lifecycle (F2): how often every node is checked even without events (kube's --node-monitor-period).
    node_monitor_period: float = 5.0
    # Namespace (F2): how soon a Terminating namespace with content left is looked at again.
    namespace_resync_period: float = 2.0
    # Pod GC (issue 5): how often a pass runs (kube's gcCheckPeriod), how long a node must be missing before its
    # pods are deleted (kube's quarantineTime), and how many terminated pods may stay (<= 0: all of them).
    pod_gc_period: float = 20.0
    pod_gc_quarantine: float = 40.0
    terminated_pod_gc_threshold: int = 12500
