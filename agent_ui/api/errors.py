"""Every error the API returns is JSON ``{"error": {"code", "message"}}`` — never a bare 500."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ticketing.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
)

log = logging.getLogger(__name__)

STATUS_FOR: list[tuple[type[DomainError], int]] = [
    (AuthenticationFailed, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 422),
    (ServiceUnavailable, 503),
]


class BadRequest(Exception):
    """The request itself is malformed (not JSON, wrong types): 400."""

    def __init__(self, message: str, code: str = "bad_request") -> None:
        super().__init__(message)
        self.code = code


def error_response(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    body: dict[str, object] = {"code": code, "message": message, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": body}, status_code=status, headers=headers)


async def domain_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    status = next((s for kind, s in STATUS_FOR if isinstance(exc, kind)), 400)
    extra = {"field": exc.field} if isinstance(exc, InvalidInput) and exc.field else {}
    return error_response(status, exc.code, str(exc), **extra)


async def bad_request_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadRequest)
    return error_response(400, exc.code, str(exc))


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal", "internal error; it was logged")
