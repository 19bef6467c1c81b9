"""The HTTP edge of the errors: Kubernetes-worded subclasses and the one conversion to ``metav1.Status``.

The error classes themselves are the domain errors of :mod:`kubelite.errors`
(``NotFound``, ``Conflict``, ``Invalid``, ``Gone``, ``Unauthorized``,
``Forbidden``...); this module only adds the subclasses that carry what a
Kubernetes Status needs (the resource and name, field causes) and the few
HTTP-only refusals (405, 406, 413, 415). The handlers, the registry and the
security middlewares raise or build these; :func:`to_status` is the only place
that decides the code, the ``reason`` and the ``details`` a Kubernetes client
expects (in the HTTP error middleware, and in the authentication and
authorization middlewares, which answer before it). Messages are worded as
kube-apiserver words them, because kubectl prints them verbatim.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from kubelite.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    KubeliteError,
    NotFound,
    Unauthorized,
    Unavailable,
)


@dataclass(frozen=True)
class Cause:
    """One field error: ``reason`` is FieldValueInvalid, FieldValueRequired, FieldValueNotSupported..."""

    reason: str
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}

    def text(self) -> str:
        return f"{self.field}: {self.message}"


def invalid_value(path: str, value: object, detail: str) -> Cause:
    shown = f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else repr(value)
    return Cause("FieldValueInvalid", path, f"Invalid value: {shown}: {detail}")


def required(path: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", path, "Required value" + (f": {detail}" if detail else ""))


def not_supported(path: str, value: object, supported: list[str]) -> Cause:
    opts = ", ".join(f'"{s}"' for s in supported)
    return Cause("FieldValueNotSupported", path, f'Unsupported value: "{value}": supported values: {opts}')


def forbidden(path: str, detail: str) -> Cause:
    return Cause("FieldValueForbidden", path, f"Forbidden: {detail}")


@dataclass(frozen=True)
class Resource:
    """What an error is about: the group, the plural ("kind" of NotFound details) and the Kind."""

    group: str
    plural: str
    kind: str = ""


class ResourceNotFound(NotFound):
    def __init__(self, res: Resource, name: str) -> None:
        super().__init__(f'{res.plural}{"." + res.group if res.group else ""} "{name}" not found')
        self.res, self.name = res, name


class ResourceExists(AlreadyExists):
    def __init__(self, res: Resource, name: str) -> None:
        super().__init__(f'{res.plural}{"." + res.group if res.group else ""} "{name}" already exists')
        self.res, self.name = res, name


class ResourceConflict(Conflict):
    def __init__(self, res: Resource, name: str, why: str = "") -> None:
        why = why or "the object has been modified; please apply your changes to the latest version and try again"
        super().__init__(f'Operation cannot be fulfilled on {res.plural}{"." + res.group if res.group else ""} "{name}": {why}')
        self.res, self.name = res, name


class ApplyConflict(Conflict):
    """409 Conflict of server-side apply: fields owned by other managers, one cause per field."""

    def __init__(self, message: str, causes: list[Cause]) -> None:
        super().__init__(message)
        self.causes = causes


class FieldsInvalid(Invalid):
    """422 Invalid with ``details.causes``: a failed validation of one object."""

    def __init__(self, res: Resource, name: str, causes: list[Cause]) -> None:
        texts = [c.text() for c in causes]
        listing = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
        super().__init__(f'{res.kind} "{name}" is invalid: {listing}')
        self.res, self.name, self.causes = res, name, causes


def quote(text: str) -> str:
    """Go's ``%q`` for the plain names that appear in kube's messages."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ResourceForbidden(Forbidden):
    """403 about a resource (deleting a system namespace, a refused request); worded as ``NewForbidden``."""

    def __init__(self, res: Resource, name: str, why: str, causes: tuple[Cause, ...] = ()) -> None:
        what = f'{res.plural}{"." + res.group if res.group else ""}' + (f" {quote(name)}" if name else "")
        super().__init__(f"{what} is forbidden: {why}")
        self.res, self.name, self.causes = res, name, causes


class BadRequest(Invalid):
    """400: the request itself is malformed (body, query, selector)."""


class MethodNotAllowed(KubeliteError):
    def __init__(self, msg: str = "the server does not allow this method on the requested resource") -> None:
        super().__init__(msg)


class UnsupportedMediaType(Invalid):
    pass


class NotAcceptable(Invalid):
    pass


class TooLarge(Invalid):
    pass


@dataclass
class StatusError:
    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            out["details"] = self.details
        return out

    def response(self) -> web.Response:
        return web.Response(body=json.dumps(self.body(), separators=(",", ":")).encode(), status=self.code,
                            content_type="application/json")


def _details(res: Resource, name: str, kind: str) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "kind": kind} if name else {"kind": kind}  # omitempty, as Go writes it
    if res.group:
        d["group"] = res.group
    return d


def to_status(e: BaseException) -> StatusError:
    """The Status a client sees for a domain error; anything unexpected is a bare 500 InternalError."""
    msg = str(e)
    match e:
        case ResourceNotFound():
            return StatusError(404, "NotFound", msg, _details(e.res, e.name, e.res.plural))
        case NotFound():
            return StatusError(404, "NotFound", msg)
        case ResourceExists():
            return StatusError(409, "AlreadyExists", msg, _details(e.res, e.name, e.res.plural))
        case ResourceConflict():
            return StatusError(409, "Conflict", msg, _details(e.res, e.name, e.res.plural))
        case ResourceForbidden():
            d = _details(e.res, e.name, e.res.plural)
            if e.causes:  # e.g. NamespaceTerminating, which clients (kubectl drain) look for
                d["causes"] = [c.as_dict() for c in e.causes]
            return StatusError(403, "Forbidden", msg, d)
        case Forbidden():
            return StatusError(403, "Forbidden", msg)
        case Unauthorized():
            return StatusError(401, "Unauthorized", msg)
        case AlreadyExists():
            return StatusError(409, "AlreadyExists", msg)
        case ApplyConflict():
            return StatusError(409, "Conflict", msg, {"causes": [c.as_dict() for c in e.causes]})
        case Conflict():
            return StatusError(409, "Conflict", msg)
        case FieldsInvalid():
            d = _details(e.res, e.name, e.res.kind)
            d["causes"] = [c.as_dict() for c in e.causes]
            return StatusError(422, "Invalid", msg, d)
        case UnsupportedMediaType():
            return StatusError(415, "UnsupportedMediaType", msg)
        case NotAcceptable():
            return StatusError(406, "NotAcceptable", msg)
        case TooLarge():
            return StatusError(413, "RequestEntityTooLarge", msg)
        case MethodNotAllowed():
            return StatusError(405, "MethodNotAllowed", msg)
        case Gone():
            return StatusError(410, "Expired", msg)
        case Invalid():
            return StatusError(400, "BadRequest", msg)
        case Unavailable():
            return StatusError(503, "ServiceUnavailable", msg)
        case KubeliteError():
            return StatusError(500, "InternalError", msg)
    return StatusError(500, "InternalError", f"Internal error occurred: {type(e).__name__}")
