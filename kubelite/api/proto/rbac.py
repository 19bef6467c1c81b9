"""Field tables for rbac.authorization.k8s.io/v1 (k8s.io/api rbac/v1, v0.36.3).

Each table maps a protobuf field number to (JSON name, type spec); the
grammar of a spec is documented in ``schema.py``. Only the messages reachable
from the kinds in ``KINDS`` are listed; fields absent here are skipped.
"""

from kubelite.api.proto.schema import Table

API_VERSION = "rbac.authorization.k8s.io/v1"

KINDS = (
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
)

MESSAGES: dict[str, Table] = {
    "Role": {
        1: ("metadata", "ObjectMeta"),
        2: ("rules", "[]PolicyRule!"),
    },
    "RoleBinding": {
        1: ("metadata", "ObjectMeta"),
        2: ("subjects", "[]Subject"),
        3: ("roleRef", "RoleRef"),
    },
    "ClusterRole": {
        1: ("metadata", "ObjectMeta"),
        2: ("rules", "[]PolicyRule!"),
        3: ("aggregationRule", "AggregationRule"),
    },
    "ClusterRoleBinding": {
        1: ("metadata", "ObjectMeta"),
        2: ("subjects", "[]Subject"),
        3: ("roleRef", "RoleRef"),
    },
    "PolicyRule": {
        1: ("verbs", "[]string!"),
        2: ("apiGroups", "[]string"),
        3: ("resources", "[]string"),
        4: ("resourceNames", "[]string"),
        5: ("nonResourceURLs", "[]string"),
    },
    "Subject": {
        1: ("kind", "string!"),
        2: ("apiGroup", "string"),
        3: ("name", "string!"),
        4: ("namespace", "string"),
    },
    "RoleRef": {
        1: ("apiGroup", "string!"),
        2: ("kind", "string!"),
        3: ("name", "string!"),
    },
    "AggregationRule": {
        1: ("clusterRoleSelectors", "[]LabelSelector"),
    },
}
