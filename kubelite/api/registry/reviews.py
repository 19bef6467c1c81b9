"""Create-only, never-stored review kinds: who am I (SelfSubjectReview) and may I (…AccessReview).

``kubectl auth whoami`` creates an ``authentication.k8s.io/v1``
SelfSubjectReview and prints ``status.userInfo``; ``kubectl auth can-i``
creates an ``authorization.k8s.io/v1`` SelfSubjectAccessReview and reads
``status.allowed``. Like kube-apiserver, the server answers from the request's
authenticated user and the same :class:`~kubelite.api.security.authz.Authorizer`
that guards every request, so "can-i" never disagrees with what a real request
would get. These strategies are routed and listed in discovery like any kind,
but :meth:`Review.review` computes the answer and nothing reaches the store.
"""

from __future__ import annotations

from typing import ClassVar

from kubelite.api.errors import BadRequest, Cause, FieldsInvalid, Resource, required
from kubelite.api.registry.base import Obj, Strategy
from kubelite.api.security.authn import AUTHENTICATED, UserInfo
from kubelite.api.security.authz import (
    AUTHENTICATED_RULES,
    DISCOVERY_PATHS,
    MASTERS,
    NODE_RULES,
    NODES,
    Authorizer,
)


class Review(Strategy):
    namespaced = False
    verbs: ClassVar[tuple[str, ...]] = ("create",)

    def review(self, obj: Obj, user: UserInfo, authorizer: Authorizer, namespace: str = "") -> Obj:
        raise NotImplementedError

    def _answer(self, obj: Obj, status: Obj) -> Obj:
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        out: Obj = {"kind": self.kind, "apiVersion": self.api_version,
                    "metadata": {**(meta or {}), "creationTimestamp": None}}
        if "spec" in obj:
            out["spec"] = obj["spec"]
        out["status"] = status
        return out


class SelfSubjectReview(Review):
    group, kind, plural, singular = "authentication.k8s.io", "SelfSubjectReview", "selfsubjectreviews", \
        "selfsubjectreview"

    def review(self, obj: Obj, user: UserInfo, authorizer: Authorizer, namespace: str = "") -> Obj:
        return self._answer(obj, {"userInfo": user.to_json()})


def _access(spec: object, user: UserInfo, authorizer: Authorizer, kind: str, namespace: str = "") -> Obj:
    if not isinstance(spec, dict):
        raise FieldsInvalid(_resource(kind), "", [required("spec")])
    res, non = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if bool(res) == bool(non):
        raise FieldsInvalid(_resource(kind), "", [Cause(
            "FieldValueRequired", "spec.resourceAttributes",
            "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified")])
    if isinstance(res, dict):
        ns = namespace or str(res.get("namespace") or "")
        allowed = authorizer.authorize(user, str(res.get("verb") or ""), str(res.get("group") or ""),
                                       str(res.get("resource") or ""), ns, str(res.get("name") or ""),
                                       subresource=str(res.get("subresource") or ""))
    elif isinstance(non, dict):
        allowed = authorizer.authorize(user, str(non.get("verb") or ""), "", "", "", "",
                                       path=str(non.get("path") or ""))
    else:
        raise BadRequest("spec.resourceAttributes must be an object")
    status: Obj = {"allowed": allowed}
    if allowed and MASTERS in user.groups:
        status["reason"] = f'allowed by the "{MASTERS}" group'
    elif not allowed:
        status["reason"] = "no rule of the kubelite policy allows it"
    return status


def _resource(kind: str) -> Resource:
    return Resource("authorization.k8s.io", kind.lower() + "s", kind)


class SelfSubjectAccessReview(Review):
    group, kind, plural, singular = "authorization.k8s.io", "SelfSubjectAccessReview", \
        "selfsubjectaccessreviews", "selfsubjectaccessreview"

    def review(self, obj: Obj, user: UserInfo, authorizer: Authorizer, namespace: str = "") -> Obj:
        return self._answer(obj, _access(obj.get("spec"), user, authorizer, self.kind))


class SubjectAccessReview(Review):
    """Ask about another user (what webhooks and node agents use); ``spec.user``/``groups`` are the subject."""

    group, kind, plural, singular = "authorization.k8s.io", "SubjectAccessReview", "subjectaccessreviews", \
        "subjectaccessreview"

    def review(self, obj: Obj, user: UserInfo, authorizer: Authorizer, namespace: str = "") -> Obj:
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        assert isinstance(spec, dict)
        if not spec.get("user") and not spec.get("groups"):
            raise FieldsInvalid(_resource(self.kind), "", [Cause(
                "FieldValueRequired", "spec.user", "Required value: at least one of user or group must be specified")])
        subject = UserInfo(str(spec.get("user") or ""), str(spec.get("uid") or ""),
                           tuple(str(g) for g in spec.get("groups") or []))
        return self._answer(obj, _access(spec, subject, authorizer, self.kind))


class SelfSubjectRulesReview(Review):
    """``kubectl auth can-i --list``: the rules of the fixed policy that apply to the caller."""

    group, kind, plural, singular = "authorization.k8s.io", "SelfSubjectRulesReview", "selfsubjectrulesreviews", \
        "selfsubjectrulesreview"

    def review(self, obj: Obj, user: UserInfo, authorizer: Authorizer, namespace: str = "") -> Obj:
        if MASTERS in user.groups:
            rules: list[Obj] = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
            non: list[Obj] = [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
        else:
            tables = [AUTHENTICATED_RULES] if AUTHENTICATED in user.groups else []
            if NODES in user.groups:
                tables.append(NODE_RULES)
            rules = [{"verbs": list(v), "apiGroups": [g], "resources": [r]} for t in tables for g, r, v in t]
            non = [{"verbs": ["get"], "nonResourceURLs": list(DISCOVERY_PATHS)}] \
                if AUTHENTICATED in user.groups else []
        return self._answer(obj, {"resourceRules": rules, "nonResourceRules": non, "incomplete": False})


REVIEWS: list[Strategy] = [SelfSubjectReview(), SelfSubjectAccessReview(), SelfSubjectRulesReview(),
                           SubjectAccessReview()]
