"""Field tables for policy/v1 (k8s.io/api policy/v1, v0.36.3).

Each table maps a protobuf field number to (JSON name, type spec); the
grammar of a spec is documented in ``schema.py``. Only the messages reachable
from the kinds in ``KINDS`` are listed; fields absent here are skipped.
"""

from kubelite.api.proto.schema import Table

API_VERSION = "policy/v1"

KINDS = (
    "PodDisruptionBudget",
    "Eviction",
)

MESSAGES: dict[str, Table] = {
    "PodDisruptionBudget": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "PodDisruptionBudgetSpec"),
        3: ("status", "PodDisruptionBudgetStatus"),
    },
    "Eviction": {
        1: ("metadata", "ObjectMeta"),
        2: ("deleteOptions", "DeleteOptions"),
    },
    "PodDisruptionBudgetSpec": {
        1: ("minAvailable", "IntOrString"),
        2: ("selector", "LabelSelector"),
        3: ("maxUnavailable", "IntOrString"),
        4: ("unhealthyPodEvictionPolicy", "string!"),
    },
    "PodDisruptionBudgetStatus": {
        1: ("observedGeneration", "int"),
        2: ("disruptedPods", "map[string]Time"),
        3: ("disruptionsAllowed", "int!"),
        4: ("currentHealthy", "int!"),
        5: ("desiredHealthy", "int!"),
        6: ("expectedPods", "int!"),
        7: ("conditions", "[]Condition"),
    },
}
