"""Field tables for scheduling.k8s.io/v1 (k8s.io/api scheduling/v1, v0.36.3).

Each table maps a protobuf field number to (JSON name, type spec); the
grammar of a spec is documented in ``schema.py``. Only the messages reachable
from the kinds in ``KINDS`` are listed; fields absent here are skipped.
"""

from kubelite.api.proto.schema import Table

API_VERSION = "scheduling.k8s.io/v1"

KINDS = ("PriorityClass",)

MESSAGES: dict[str, Table] = {
    "PriorityClass": {
        1: ("metadata", "ObjectMeta"),
        2: ("value", "int!"),
        3: ("globalDefault", "bool"),
        4: ("description", "string"),
        5: ("preemptionPolicy", "string!"),
    },
}
