"""Every controller kubelite runs, by name: the one place to add a controller.

Add one line per controller, ``"name": Factory``; a factory takes the
:class:`~kubelite.controllers.base.ControllerContext` and returns a
:class:`~kubelite.controllers.base.Controller` (the class itself usually is one).
Names are kube-controller-manager's (``--controllers``), so ``only={"replicaset"}``
reads as it would there.
"""

from __future__ import annotations

from collections.abc import Callable

from kubelite.controllers.base import Controller, ControllerContext
from kubelite.controllers.cronjob import CronJobController
from kubelite.controllers.daemonset import DaemonSetController
from kubelite.controllers.deployment import DeploymentController
from kubelite.controllers.disruption import DisruptionController
from kubelite.controllers.garbagecollector import GarbageCollector
from kubelite.controllers.job import JobController
from kubelite.controllers.namespace import NamespaceController
from kubelite.controllers.nodelifecycle import NodeLifecycleController
from kubelite.controllers.podgc import PodGCController
from kubelite.controllers.replicaset import ReplicaSetController
from kubelite.controllers.serviceaccount import ServiceAccountController
from kubelite.controllers.statefulset import StatefulSetController

Factory = Callable[[ControllerContext], Controller]

CONTROLLERS: dict[str, Factory] = {
    "garbagecollector": GarbageCollector,
    "cronjob": CronJobController,
    "job": JobController,
    "namespace": NamespaceController,
    "serviceaccount": ServiceAccountController,
    "nodelifecycle": NodeLifecycleController,
    "replicaset": ReplicaSetController,
    "deployment": DeploymentController,
    "daemonset": DaemonSetController,
    "statefulset": StatefulSetController,
    "disruption": DisruptionController,
    "pod-garbage-collector": PodGCController,
}
