"""Matching as the scheduler needs it: label selectors, node selector terms, tolerations.

Selectors come from pod specs as dicts (``matchLabels`` / ``matchExpressions``);
the scheduler evaluates the same selector against thousands of nodes or pods in
one cycle, so each is compiled once into a closure over tuples instead of being
re-read from the dict every time. Malformed selectors (an unknown operator, a
``Gt`` value that is no integer) never raise: they match nothing, which is what
the API server's validation would have refused in the first place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Obj = dict[str, Any]
Labels = Mapping[str, str]
Matcher = Callable[[Labels], bool]


def _never(_: Labels) -> bool:
    return False


def _always(_: Labels) -> bool:
    return True


def _requirement(key: str, op: str, values: tuple[str, ...]) -> Matcher | None:
    """One ``key op values`` requirement; None when it is malformed."""
    vals = frozenset(values)
    if op == "In":
        return lambda labels: labels.get(key) in vals
    if op == "NotIn":
        return lambda labels: labels.get(key) not in vals
    if op == "Exists":
        return lambda labels: key in labels
    if op == "DoesNotExist":
        return lambda labels: key not in labels
    if op in ("Gt", "Lt") and len(values) == 1:
        try:
            bound = int(values[0])
        except ValueError:
            return None
        gt = op == "Gt"

        def cmp(labels: Labels) -> bool:
            v = labels.get(key)
            if v is None:
                return False
            try:
                n = int(v)
            except ValueError:
                return False
            return n > bound if gt else n < bound
        return cmp
    return None


def _equals(key: str, val: str) -> Matcher:
    return lambda labels: labels.get(key) == val


def _all_of(matchers: list[Matcher]) -> Matcher:
    if not matchers:
        return _always
    if len(matchers) == 1:
        return matchers[0]
    return lambda labels: all(m(labels) for m in matchers)


def label_selector(sel: Obj | None) -> Matcher:
    """A metav1.LabelSelector; ``None`` matches nothing and ``{}`` everything, as in Kubernetes."""
    if sel is None:
        return _never
    matchers: list[Matcher] = []
    for k, v in (sel.get("matchLabels") or {}).items():
        matchers.append(_equals(str(k), str(v)))
    for e in sel.get("matchExpressions") or []:
        op = {"In": "In", "NotIn": "NotIn", "Exists": "Exists", "DoesNotExist": "DoesNotExist"}.get(e.get("operator"))
        m = _requirement(str(e.get("key", "")), op or "", tuple(str(x) for x in e.get("values") or ()))
        if m is None:
            return _never
        matchers.append(m)
    return _all_of(matchers)


NodeMatcher = Callable[[Labels, str], bool]


def node_selector_term(term: Obj) -> NodeMatcher:
    """A NodeSelectorTerm (expressions on labels AND fields on ``metadata.name``); an empty term matches nothing."""
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return lambda labels, name: False
    label_ms: list[Matcher] = []
    for e in exprs:
        m = _requirement(str(e.get("key", "")), str(e.get("operator", "")), tuple(str(x) for x in e.get("values") or ()))
        if m is None:
            return lambda labels, name: False
        label_ms.append(m)
    name_ms: list[Matcher] = []
    for f in fields:
        if f.get("key") != "metadata.name" or f.get("operator") not in ("In", "NotIn"):
            return lambda labels, name: False
        m = _requirement("n", str(f["operator"]), tuple(str(x) for x in f.get("values") or ()))
        assert m is not None
        name_ms.append(m)
    lab, nam = _all_of(label_ms), _all_of(name_ms)
    if not name_ms:
        return lambda labels, name: lab(labels)
    return lambda labels, name: lab(labels) and nam({"n": name})


def node_selector(terms: list[Obj]) -> NodeMatcher:
    """A NodeSelector: its terms are ORed."""
    ms = [node_selector_term(t) for t in terms]
    return lambda labels, name: any(m(labels, name) for m in ms)


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """Whether one toleration tolerates one taint (corev1 Toleration.ToleratesTaint)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    op = toleration.get("operator") or "Equal"
    if key and key != taint.get("key"):
        return False
    if op == "Exists":
        return True
    if op == "Equal":
        return bool(key) and (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerated(tolerations: list[Obj], taint: Obj) -> bool:
    return any(tolerates(t, taint) for t in tolerations)
