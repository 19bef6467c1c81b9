"""The error vocabulary every layer shares.

Each layer raises these domain errors (or subclasses of them) and never formats
them for a user; the edge (the CLI, later the HTTP server) turns them into one
line and an exit code, or into a Kubernetes ``Status``.
"""


class KubeliteError(Exception):
    """Base of every error kubelite expects and reports to a user."""

    exit_code = 1


class NotFound(KubeliteError):
    """The named thing (container, image, blob, bundle) does not exist."""


class AlreadyExists(KubeliteError):
    """A thing with that name or id exists already."""


class Conflict(KubeliteError):
    """The thing exists but is in a state that forbids the operation."""


class Invalid(KubeliteError):
    """The input is malformed or out of range."""


class SystemFailure(KubeliteError):
    """The kernel or a tool refused something we asked for in good form."""


class Gone(KubeliteError):
    """What was asked for existed once but is no more: a compacted revision, an expired continue token."""


class Unavailable(KubeliteError):
    """A backing service (the datastore, a peer) cannot answer now; trying again later may work."""


class Unauthorized(KubeliteError):
    """The caller could not be identified: no credentials, or credentials we do not accept (HTTP 401)."""


class Forbidden(KubeliteError):
    """The caller is known but may not do what it asked (HTTP 403)."""
