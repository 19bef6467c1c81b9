"""Field tables for networking.k8s.io/v1 (k8s.io/api networking/v1, v0.36.3).

Each table maps a protobuf field number to (JSON name, type spec); the
grammar of a spec is documented in ``schema.py``. Only the messages reachable
from the kinds in ``KINDS`` are listed; fields absent here are skipped.
"""

from kubelite.api.proto.schema import Table

API_VERSION = "networking.k8s.io/v1"

KINDS = (
    "Ingress",
    "IngressClass",
    "NetworkPolicy",
)

MESSAGES: dict[str, Table] = {
    "Ingress": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "IngressSpec"),
        3: ("status", "IngressStatus"),
    },
    "IngressClass": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "IngressClassSpec"),
    },
    "NetworkPolicy": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "NetworkPolicySpec"),
    },
    "IngressSpec": {
        1: ("defaultBackend", "IngressBackend"),
        2: ("tls", "[]IngressTLS"),
        3: ("rules", "[]IngressRule"),
        4: ("ingressClassName", "string!"),
    },
    "IngressStatus": {
        1: ("loadBalancer", "IngressLoadBalancerStatus"),
    },
    "IngressClassSpec": {
        1: ("controller", "string"),
        2: ("parameters", "IngressClassParametersReference"),
    },
    "NetworkPolicySpec": {
        1: ("podSelector", "LabelSelector"),
        2: ("ingress", "[]NetworkPolicyIngressRule"),
        3: ("egress", "[]NetworkPolicyEgressRule"),
        4: ("policyTypes", "[]string"),
    },
    "IngressBackend": {
        3: ("resource", "TypedLocalObjectReference"),
        4: ("service", "IngressServiceBackend"),
    },
    "IngressTLS": {
        1: ("hosts", "[]string"),
        2: ("secretName", "string"),
    },
    "IngressRule": {
        1: ("host", "string"),
        2: ("", "IngressRuleValue"),
    },
    "IngressLoadBalancerStatus": {
        1: ("ingress", "[]IngressLoadBalancerIngress"),
    },
    "IngressClassParametersReference": {
        1: ("apiGroup", "string!"),
        2: ("kind", "string!"),
        3: ("name", "string!"),
        4: ("scope", "string!"),
        5: ("namespace", "string!"),
    },
    "NetworkPolicyIngressRule": {
        1: ("ports", "[]NetworkPolicyPort"),
        2: ("from", "[]NetworkPolicyPeer"),
    },
    "NetworkPolicyEgressRule": {
        1: ("ports", "[]NetworkPolicyPort"),
        2: ("to", "[]NetworkPolicyPeer"),
    },
    "IngressServiceBackend": {
        1: ("name", "string!"),
        2: ("port", "ServiceBackendPort"),
    },
    "IngressRuleValue": {
        1: ("http", "HTTPIngressRuleValue"),
    },
    "IngressLoadBalancerIngress": {
        1: ("ip", "string"),
        2: ("hostname", "string"),
        4: ("ports", "[]IngressPortStatus"),
    },
    "NetworkPolicyPort": {
        1: ("protocol", "string!"),
        2: ("port", "IntOrString"),
        3: ("endPort", "int!"),
    },
    "NetworkPolicyPeer": {
        1: ("podSelector", "LabelSelector"),
        2: ("namespaceSelector", "LabelSelector"),
        3: ("ipBlock", "IPBlock"),
    },
    "ServiceBackendPort": {
        1: ("name", "string"),
        2: ("number", "int"),
    },
    "HTTPIngressRuleValue": {
        1: ("paths", "[]HTTPIngressPath!"),
    },
    "IngressPortStatus": {
        1: ("port", "int!"),
        2: ("protocol", "string!"),
        3: ("error", "string!"),
    },
    "IPBlock": {
        1: ("cidr", "string!"),
        2: ("except", "[]string"),
    },
    "HTTPIngressPath": {
        1: ("path", "string"),
        2: ("backend", "IngressBackend"),
        3: ("pathType", "string!"),
    },
}
