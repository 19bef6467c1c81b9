"""Field tables for apps/v1 (k8s.io/api apps/v1, v0.36.3).

Each table maps a protobuf field number to (JSON name, type spec); the
grammar of a spec is documented in ``schema.py``. Only the messages reachable
from the kinds in ``KINDS`` are listed; fields absent here are skipped.
"""

from kubelite.api.proto.schema import Table

API_VERSION = "apps/v1"

KINDS = (
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
)

MESSAGES: dict[str, Table] = {
    "Deployment": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "DeploymentSpec"),
        3: ("status", "DeploymentStatus"),
    },
    "ReplicaSet": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "ReplicaSetSpec"),
        3: ("status", "ReplicaSetStatus"),
    },
    "DaemonSet": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "DaemonSetSpec"),
        3: ("status", "DaemonSetStatus"),
    },
    "StatefulSet": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "StatefulSetSpec"),
        3: ("status", "StatefulSetStatus"),
    },
    "DeploymentSpec": {
        1: ("replicas", "int!"),
        2: ("selector", "LabelSelector"),
        3: ("template", "PodTemplateSpec"),
        4: ("strategy", "DeploymentStrategy"),
        5: ("minReadySeconds", "int"),
        6: ("revisionHistoryLimit", "int!"),
        7: ("paused", "bool"),
        9: ("progressDeadlineSeconds", "int!"),
    },
    "DeploymentStatus": {
        1: ("observedGeneration", "int"),
        2: ("replicas", "int"),
        3: ("updatedReplicas", "int"),
        4: ("availableReplicas", "int"),
        5: ("unavailableReplicas", "int"),
        6: ("conditions", "[]DeploymentCondition"),
        7: ("readyReplicas", "int"),
        8: ("collisionCount", "int!"),
        9: ("terminatingReplicas", "int!"),
    },
    "ReplicaSetSpec": {
        1: ("replicas", "int!"),
        2: ("selector", "LabelSelector"),
        3: ("template", "PodTemplateSpec"),
        4: ("minReadySeconds", "int"),
    },
    "ReplicaSetStatus": {
        1: ("replicas", "int!"),
        2: ("fullyLabeledReplicas", "int"),
        3: ("observedGeneration", "int"),
        4: ("readyReplicas", "int"),
        5: ("availableReplicas", "int"),
        6: ("conditions", "[]ReplicaSetCondition"),
        7: ("terminatingReplicas", "int!"),
    },
    "DaemonSetSpec": {
        1: ("selector", "LabelSelector"),
        2: ("template", "PodTemplateSpec"),
        3: ("updateStrategy", "DaemonSetUpdateStrategy"),
        4: ("minReadySeconds", "int"),
        6: ("revisionHistoryLimit", "int!"),
    },
    "DaemonSetStatus": {
        1: ("currentNumberScheduled", "int!"),
        2: ("numberMisscheduled", "int!"),
        3: ("desiredNumberScheduled", "int!"),
        4: ("numberReady", "int!"),
        5: ("observedGeneration", "int"),
        6: ("updatedNumberScheduled", "int"),
        7: ("numberAvailable", "int"),
        8: ("numberUnavailable", "int"),
        9: ("collisionCount", "int!"),
        10: ("conditions", "[]DaemonSetCondition"),
    },
    "StatefulSetSpec": {
        1: ("replicas", "int!"),
        2: ("selector", "LabelSelector"),
        3: ("template", "PodTemplateSpec"),
        4: ("volumeClaimTemplates", "[]PersistentVolumeClaim"),
        5: ("serviceName", "string!"),
        6: ("podManagementPolicy", "string"),
        7: ("updateStrategy", "StatefulSetUpdateStrategy"),
        8: ("revisionHistoryLimit", "int!"),
        9: ("minReadySeconds", "int"),
        10: ("persistentVolumeClaimRetentionPolicy", "StatefulSetPersistentVolumeClaimRetentionPolicy"),
        11: ("ordinals", "StatefulSetOrdinals"),
    },
    "StatefulSetStatus": {
        1: ("observedGeneration", "int"),
        2: ("replicas", "int!"),
        3: ("readyReplicas", "int"),
        4: ("currentReplicas", "int"),
        5: ("updatedReplicas", "int"),
        6: ("currentRevision", "string"),
        7: ("updateRevision", "string"),
        9: ("collisionCount", "int!"),
        10: ("conditions", "[]StatefulSetCondition"),
        11: ("availableReplicas", "int!"),
    },
    "DeploymentStrategy": {
        1: ("type", "string"),
        2: ("rollingUpdate", "RollingUpdateDeployment"),
    },
    "DeploymentCondition": {
        1: ("type", "string!"),
        2: ("status", "string!"),
        4: ("reason", "string"),
        5: ("message", "string"),
        6: ("lastUpdateTime", "Time"),
        7: ("lastTransitionTime", "Time"),
    },
    "ReplicaSetCondition": {
        1: ("type", "string!"),
        2: ("status", "string!"),
        3: ("lastTransitionTime", "Time"),
        4: ("reason", "string"),
        5: ("message", "string"),
    },
    "DaemonSetUpdateStrategy": {
        1: ("type", "string"),
        2: ("rollingUpdate", "RollingUpdateDaemonSet"),
    },
    "DaemonSetCondition": {
        1: ("type", "string!"),
        2: ("status", "string!"),
        3: ("lastTransitionTime", "Time"),
        4: ("reason", "string"),
        5: ("message", "string"),
    },
    "StatefulSetUpdateStrategy": {
        1: ("type", "string"),
        2: ("rollingUpdate", "RollingUpdateStatefulSetStrategy"),
    },
    "StatefulSetPersistentVolumeClaimRetentionPolicy": {
        1: ("whenDeleted", "string"),
        2: ("whenScaled", "string"),
    },
    "StatefulSetOrdinals": {
        1: ("start", "int!"),
    },
    "StatefulSetCondition": {
        1: ("type", "string!"),
        2: ("status", "string!"),
        3: ("lastTransitionTime", "Time"),
        4: ("reason", "string"),
        5: ("message", "string"),
    },
    "RollingUpdateDeployment": {
        1: ("maxUnavailable", "IntOrString"),
        2: ("maxSurge", "IntOrString"),
    },
    "RollingUpdateDaemonSet": {
        1: ("maxUnavailable", "IntOrString"),
        2: ("maxSurge", "IntOrString"),
    },
    "RollingUpdateStatefulSetStrategy": {
        1: ("partition", "int!"),
        2: ("maxUnavailable", "IntOrString"),
    },
}
