"""Field tables for batch/v1 (k8s.io/api batch/v1, v0.36.3).

Each table maps a protobuf field number to (JSON name, type spec); the
grammar of a spec is documented in ``schema.py``. Only the messages reachable
from the kinds in ``KINDS`` are listed; fields absent here are skipped.
"""

from kubelite.api.proto.schema import Table

API_VERSION = "batch/v1"

KINDS = (
    "Job",
    "CronJob",
)

MESSAGES: dict[str, Table] = {
    "Job": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "JobSpec"),
        3: ("status", "JobStatus"),
    },
    "CronJob": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "CronJobSpec"),
        3: ("status", "CronJobStatus"),
    },
    "JobSpec": {
        1: ("parallelism", "int!"),
        2: ("completions", "int!"),
        3: ("activeDeadlineSeconds", "int!"),
        4: ("selector", "LabelSelector"),
        5: ("manualSelector", "bool!"),
        6: ("template", "PodTemplateSpec"),
        7: ("backoffLimit", "int!"),
        8: ("ttlSecondsAfterFinished", "int!"),
        9: ("completionMode", "string!"),
        10: ("suspend", "bool!"),
        11: ("podFailurePolicy", "PodFailurePolicy"),
        12: ("backoffLimitPerIndex", "int!"),
        13: ("maxFailedIndexes", "int!"),
        14: ("podReplacementPolicy", "string!"),
        15: ("managedBy", "string!"),
        16: ("successPolicy", "SuccessPolicy"),
    },
    "JobStatus": {
        1: ("conditions", "[]JobCondition"),
        2: ("startTime", "Time"),
        3: ("completionTime", "Time"),
        4: ("active", "int"),
        5: ("succeeded", "int"),
        6: ("failed", "int"),
        7: ("completedIndexes", "string"),
        8: ("uncountedTerminatedPods", "UncountedTerminatedPods"),
        9: ("ready", "int!"),
        10: ("failedIndexes", "string!"),
        11: ("terminating", "int!"),
    },
    "CronJobSpec": {
        1: ("schedule", "string!"),
        2: ("startingDeadlineSeconds", "int!"),
        3: ("concurrencyPolicy", "string"),
        4: ("suspend", "bool!"),
        5: ("jobTemplate", "JobTemplateSpec"),
        6: ("successfulJobsHistoryLimit", "int!"),
        7: ("failedJobsHistoryLimit", "int!"),
        8: ("timeZone", "string!"),
    },
    "CronJobStatus": {
        1: ("active", "[]ObjectReference"),
        4: ("lastScheduleTime", "Time"),
        5: ("lastSuccessfulTime", "Time"),
    },
    "PodFailurePolicy": {
        1: ("rules", "[]PodFailurePolicyRule!"),
    },
    "SuccessPolicy": {
        1: ("rules", "[]SuccessPolicyRule!"),
    },
    "JobCondition": {
        1: ("type", "string!"),
        2: ("status", "string!"),
        3: ("lastProbeTime", "Time"),
        4: ("lastTransitionTime", "Time"),
        5: ("reason", "string"),
        6: ("message", "string"),
    },
    "UncountedTerminatedPods": {
        1: ("succeeded", "[]string"),
        2: ("failed", "[]string"),
    },
    "JobTemplateSpec": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "JobSpec"),
    },
    "PodFailurePolicyRule": {
        1: ("action", "string!"),
        2: ("onExitCodes", "PodFailurePolicyOnExitCodesRequirement"),
        3: ("onPodConditions", "[]PodFailurePolicyOnPodConditionsPattern"),
    },
    "SuccessPolicyRule": {
        1: ("succeededIndexes", "string!"),
        2: ("succeededCount", "int!"),
    },
    "PodFailurePolicyOnExitCodesRequirement": {
        1: ("containerName", "string!"),
        2: ("operator", "string!"),
        3: ("values", "[]int!"),
    },
    "PodFailurePolicyOnPodConditionsPattern": {
        1: ("type", "string!"),
        2: ("status", "string!"),
    },
}
