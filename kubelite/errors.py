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
