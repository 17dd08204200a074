"""Domain errors: the adapters (HTTP, CLI, IVR) translate these, never the other way round."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"


class NotFound(DomainError):
    code = "not_found"


class InvalidInput(DomainError):
    """A value the domain does not accept (unknown category, district outside province, ...)."""

    code = "invalid"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Conflict(DomainError):
    """The change contradicts the current state: illegal transition, stale version, taken claim."""

    code = "conflict"


class StaleVersion(Conflict):
    code = "stale_version"


class PermissionDenied(DomainError):
    code = "forbidden"


class AuthenticationFailed(DomainError):
    code = "unauthenticated"


class ServiceUnavailable(DomainError):
    """A backing service (Redis) did not answer; the request may be retried (the API: 503)."""

    code = "unavailable"


class BusUnavailable(DomainError):
    """Redis (the event bus) did not answer: callers wait, retry or degrade, never lose a write.
    Raised by ticketing's Redis adapters in place of the client library's own errors."""

    code = "bus_unavailable"
