"""Field tables for v1 (k8s.io/api core/v1, v0.36.3).

Each table maps a protobuf field number to (JSON name, type spec); the
grammar of a spec is documented in ``schema.py``. Only the messages reachable
from the kinds in ``KINDS`` are listed; fields absent here are skipped.
"""

from kubelite.api.proto.schema import Table

API_VERSION = "v1"

KINDS = (
    "ConfigMap",
    "Secret",
    "Namespace",
    "Service",
    "ResourceQuota",
    "ServiceAccount",
    "Pod",
    "Binding",
)

MESSAGES: dict[str, Table] = {
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map[string]string"),
        3: ("binaryData", "map[string]bytes"),
        4: ("immutable", "bool!"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map[string]bytes"),
        3: ("type", "string"),
        4: ("stringData", "map[string]string"),
        5: ("immutable", "bool!"),
    },
    "Namespace": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "NamespaceSpec"),
        3: ("status", "NamespaceStatus"),
    },
    "Service": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "ServiceSpec"),
        3: ("status", "ServiceStatus"),
    },
    "ResourceQuota": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "ResourceQuotaSpec"),
        3: ("status", "ResourceQuotaStatus"),
    },
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta"),
        2: ("secrets", "[]ObjectReference"),
        3: ("imagePullSecrets", "[]LocalObjectReference"),
        4: ("automountServiceAccountToken", "bool!"),
    },
    "Binding": {
        1: ("metadata", "ObjectMeta"),
        2: ("target", "ObjectReference"),
    },
    "NamespaceSpec": {
        1: ("finalizers", "[]string"),
    },
    "NamespaceStatus": {
        1: ("phase", "string"),
        2: ("conditions", "[]NamespaceCondition"),
    },
    "ServiceSpec": {
        1: ("ports", "[]ServicePort"),
        2: ("selector", "map[string]string"),
        3: ("clusterIP", "string"),
        4: ("type", "string"),
        5: ("externalIPs", "[]string"),
        7: ("sessionAffinity", "string"),
        8: ("loadBalancerIP", "string"),
        9: ("loadBalancerSourceRanges", "[]string"),
        10: ("externalName", "string"),
        11: ("externalTrafficPolicy", "string"),
        12: ("healthCheckNodePort", "int"),
        13: ("publishNotReadyAddresses", "bool"),
        14: ("sessionAffinityConfig", "SessionAffinityConfig"),
        17: ("ipFamilyPolicy", "string!"),
        18: ("clusterIPs", "[]string"),
        19: ("ipFamilies", "[]string"),
        20: ("allocateLoadBalancerNodePorts", "bool!"),
        21: ("loadBalancerClass", "string!"),
        22: ("internalTrafficPolicy", "string!"),
        23: ("trafficDistribution", "string!"),
    },
    "ServiceStatus": {
        1: ("loadBalancer", "LoadBalancerStatus"),
        2: ("conditions", "[]Condition"),
    },
    "ResourceQuotaSpec": {
        1: ("hard", "map[string]Quantity"),
        2: ("scopes", "[]string"),
        3: ("scopeSelector", "ScopeSelector"),
    },
    "ResourceQuotaStatus": {
        1: ("hard", "map[string]Quantity"),
        2: ("used", "map[string]Quantity"),
    },
    "ObjectReference": {
        1: ("kind", "string"),
        2: ("namespace", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
        5: ("apiVersion", "string"),
        6: ("resourceVersion", "string"),
        7: ("fieldPath", "string"),
    },
    "NamespaceCondition": {
        1: ("type", "string!"),
        2: ("status", "string!"),
        4: ("lastTransitionTime", "Time"),
        5: ("reason", "string"),
        6: ("message", "string"),
    },
    "ServicePort": {
        1: ("name", "string"),
        2: ("protocol", "string"),
        3: ("port", "int!"),
        4: ("targetPort", "IntOrString"),
        5: ("nodePort", "int"),
        6: ("appProtocol", "string!"),
    },
    "SessionAffinityConfig": {
        1: ("clientIP", "ClientIPConfig"),
    },
    "LoadBalancerStatus": {
        1: ("ingress", "[]LoadBalancerIngress"),
    },
    "ScopeSelector": {
        1: ("matchExpressions", "[]ScopedResourceSelectorRequirement"),
    },
    "PodTemplateSpec": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "PodSpec"),
    },
    "ClientIPConfig": {
        1: ("timeoutSeconds", "int!"),
    },
    "LoadBalancerIngress": {
        1: ("ip", "string"),
        2: ("hostname", "string"),
        3: ("ipMode", "string!"),
        4: ("ports", "[]PortStatus"),
    },
    "ScopedResourceSelectorRequirement": {
        1: ("scopeName", "string!"),
        2: ("operator", "string!"),
        3: ("values", "[]string"),
    },
    "PortStatus": {
        1: ("port", "int!"),
        2: ("protocol", "string!"),
        3: ("error", "string!"),
    },
}
