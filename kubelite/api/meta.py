"""ObjectMeta: names, labels, timestamps and the metadata fields the server owns.

Validation messages are kube-apiserver's (apimachinery ``validation``), word for
word, so a user sees exactly the error Kubernetes would give. Functions return
lists of :class:`~kubelite.api.errors.Cause` instead of raising, so one request
reports every problem at once.
"""

from __future__ import annotations

import functools
import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from kubelite.api.errors import Cause, invalid_value, required

Obj = dict[str, Any]

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = DNS1123_LABEL + r"(\." + DNS1123_LABEL + r")*"
DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE = r"(" + QUALIFIED_NAME + r")?"

LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '"
             + DNS1123_LABEL + "')")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                 "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '"
                 + DNS1123_SUBDOMAIN + "')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
               "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
               "validation is '" + DNS1035_LABEL + "')")
QUALIFIED_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                 "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '"
                 + QUALIFIED_NAME + "')")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
                   "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                   "regex used for validation is '" + LABEL_VALUE + "')")


def is_dns1123_label(v: str) -> list[str]:
    errs = []
    if len(v) > 63:
        errs.append("must be no more than 63 characters")
    if not re.fullmatch(DNS1123_LABEL, v):
        errs.append(LABEL_MSG)
    return errs


def is_dns1123_subdomain(v: str) -> list[str]:
    errs = []
    if len(v) > 253:
        errs.append("must be no more than 253 characters")
    if not re.fullmatch(DNS1123_SUBDOMAIN, v):
        errs.append(SUBDOMAIN_MSG)
    return errs


def is_dns1035_label(v: str) -> list[str]:
    errs = []
    if len(v) > 63:
        errs.append("must be no more than 63 characters")
    if not re.fullmatch(DNS1035_LABEL, v):
        errs.append(DNS1035_MSG)
    return errs


def is_path_segment_name(v: str) -> list[str]:
    if v in (".", ".."):
        return [f"may not be '{v}'"]
    return [f"may not contain '{c}'" for c in "/%" if c in v]


def is_qualified_name(v: str) -> list[str]:
    prefix, _, name = v.rpartition("/")
    errs: list[str] = []
    if "/" in v and not prefix:
        errs.append("prefix part must be non-empty")
    elif prefix:
        errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    if not name:
        errs.append("name part must be non-empty")
    else:
        if len(name) > 63:
            errs.append("name part must be no more than 63 characters")
        if not re.fullmatch(QUALIFIED_NAME, name):
            errs.append(QUALIFIED_MSG)
    return errs


def validate_labels(labels: object, path: str) -> list[Cause]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [invalid_value(path, labels, "must be a map of string keys to string values")]
    out: list[Cause] = []
    for k, v in labels.items():
        out.extend(invalid_value(path, k, m) for m in is_qualified_name(k))
        if not isinstance(v, str):
            out.append(invalid_value(f"{path}.{k}", v, "must be a string"))
            continue
        if len(v) > 63:
            out.append(invalid_value(path, v, "must be no more than 63 characters"))
        if not re.fullmatch(LABEL_VALUE, v):
            out.append(invalid_value(path, v, LABEL_VALUE_MSG))
    return out


def validate_annotations(ann: object, path: str) -> list[Cause]:
    if ann is None:
        return []
    if not isinstance(ann, dict):
        return [invalid_value(path, ann, "must be a map of string keys to string values")]
    out: list[Cause] = []
    total = 0
    for k, v in ann.items():
        out.extend(invalid_value(path, k, m) for m in is_qualified_name(k.lower()))
        if not isinstance(v, str):
            out.append(invalid_value(f"{path}.{k}", v, "must be a string"))
        else:
            total += len(k) + len(v)
    if total > 256 * 1024:
        out.append(Cause("FieldValueTooLong", path, f"Too long: must have at most {256 * 1024} bytes"))
    return out


def validate_object_meta(meta: Obj, namespaced: bool, name_check: str) -> list[Cause]:
    """Name (by ``name_check``: subdomain, label, dns1035 or path), namespace presence, labels, annotations."""
    out: list[Cause] = []
    name = meta.get("name")
    if not name:
        out.append(required("metadata.name", "name or generateName is required"))
    elif not isinstance(name, str):
        out.append(invalid_value("metadata.name", name, "must be a string"))
    else:
        check = {"subdomain": is_dns1123_subdomain, "label": is_dns1123_label, "dns1035": is_dns1035_label,
                 "path": is_path_segment_name}[name_check]
        out.extend(invalid_value("metadata.name", name, m) for m in check(name))
    ns = meta.get("namespace")
    if namespaced and not ns:
        out.append(required("metadata.namespace"))
    elif not namespaced and ns:
        out.append(Cause("FieldValueForbidden", "metadata.namespace", "Forbidden: not allowed on this type"))
    out += validate_labels(meta.get("labels"), "metadata.labels")
    out += validate_annotations(meta.get("annotations"), "metadata.annotations")
    return out


GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' utilrand: no vowels, no confusable digits


def generate_name(base: str) -> str:
    base = base[: 63 - 5]
    return base + "".join(secrets.choice(GENERATE_ALPHABET) for _ in range(5))


def new_uid() -> str:
    return str(uuid.uuid4())


_NOW: list[object] = [-1, ""]  # (second, its RFC 3339 text): every write stamps one or two times


def now_rfc3339() -> str:
    second = int(time.time())
    if _NOW[0] != second:
        _NOW[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))]
    return str(_NOW[1])


def parse_time(ts: str) -> datetime | None:
    try:
        return _parse_time(ts)
    except (TypeError, ValueError):
        return None


@functools.lru_cache(maxsize=4096)  # a list's timestamps repeat (one-second resolution); strptime is slow
def _parse_time(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def human_duration(seconds: float) -> str:
    """kube's ``duration.HumanDuration``: 45s, 5m10s, 3h5m, 2d4h, 35d, 2y100d."""
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        y = h // (24 * 365)
        d = (h // 24) % 365
        return f"{y}y{d}d" if d else f"{y}y"
    return f"{h // (24 * 365)}y"


def age(obj: Obj) -> str:
    t = parse_time(obj.get("metadata", {}).get("creationTimestamp", ""))
    if t is None:
        return "<unknown>"
    return human_duration((datetime.now(UTC) - t).total_seconds())
