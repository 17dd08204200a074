"""Reading query strings into typed values, with 400 on bad input (bodies: ``contract``)."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request

from agent_ui.api.errors import BadRequest
from ticketing.timeutil import as_utc

MAX_QUERY_INT = 2**63 - 1  # the database's integer: larger numbers name no row


def query_bool(request: Request, name: str) -> bool | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise BadRequest(f"query parameter {name} must be true or false")


def query_datetime(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest(f"query parameter {name} must be an ISO 8601 date or time") from exc
    if moment.tzinfo is None:
        moment = as_utc(moment)
    return moment


def query_int(request: Request, name: str, default: int | None = None) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or int(value) > MAX_QUERY_INT:
        raise BadRequest(f"query parameter {name} must be a whole number below 2**63")
    return int(value)
