"""Field tables for authentication.k8s.io/v1 (k8s.io/api authentication/v1): what ``kubectl auth whoami`` sends.

The grammar of a spec is documented in ``schema.py``.
"""

from kubelite.api.proto.schema import Table

API_VERSION = "authentication.k8s.io/v1"

KINDS = ("SelfSubjectReview", "TokenReview")

MESSAGES: dict[str, Table] = {
    "SelfSubjectReview": {
        1: ("metadata", "ObjectMeta"),
        2: ("status", "SelfSubjectReviewStatus"),
    },
    "SelfSubjectReviewStatus": {
        1: ("userInfo", "AuthnUserInfo"),
    },
    "AuthnUserInfo": {
        1: ("username", "string"),
        2: ("uid", "string"),
        3: ("groups", "[]string"),
    },
    "TokenReview": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "TokenReviewSpec"),
    },
    "TokenReviewSpec": {
        1: ("token", "string"),
        2: ("audiences", "[]string"),
    },
}
