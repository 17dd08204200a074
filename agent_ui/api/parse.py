"""Reading request bodies and query strings into typed values, with 400/422 on bad input."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.requests import Request

from agent_ui.api.errors import BadRequest
from ticketing.errors import InvalidInput
from ticketing.timeutil import as_utc

MAX_BODY_BYTES = 256 * 1024


async def json_object(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if content_type and "json" not in content_type:
        raise BadRequest("send a JSON body with Content-Type: application/json")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"body larger than {MAX_BODY_BYTES} bytes", "too_large")
    try:
        data = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}", "invalid_json") from exc
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object", "invalid_json")
    return data


def optional_str(data: dict[str, Any], name: str, max_length: int = 20_000) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string", name)
    if len(value) > max_length:
        raise InvalidInput(f"{name} is longer than {max_length} characters", name)
    return value


def optional_bool(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise InvalidInput(f"{name} must be true or false", name)


def optional_int(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number", name)
    return value


def reject_unknown(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(unknown)}", unknown[0])


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
    if not value.isdigit():
        raise BadRequest(f"query parameter {name} must be a whole number")
    return int(value)
