"""GeoReport v2 endpoints: validate the request the way the specification describes, call the
Open311 service, answer in the format the path names (``.json`` or ``.xml``)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from agent_ui.api.auth import services_of
from agent_ui.open311.formats import Open311Error, error_response, respond
from ticketing.errors import AuthenticationFailed, InvalidInput, NotFound
from ticketing.open311_service import RequestInput, RequestQuery
from ticketing.timeutil import utcnow

FORMATS = ("json", "xml")
MAX_DESCRIPTION = 4000
MAX_SPAN = timedelta(days=90)
THAILAND = {"lat": (5.5, 20.5), "long": (97.3, 105.7)}  # bounding box, degrees

Handler = Callable[[Request, str], Awaitable[Response]]


def open311(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Maps every failure to the specification's error format in the asked format."""

    async def endpoint(request: Request) -> Response:
        fmt = request.path_params.get("fmt", "json")
        if fmt not in FORMATS:
            return error_response("json", 404, f"unknown format {fmt!r}; use .json or .xml")
        try:
            return await handler(request, fmt)
        except Open311Error as exc:
            return error_response(fmt, exc.status, exc.description)
        except AuthenticationFailed as exc:
            return error_response(fmt, 403, str(exc))
        except NotFound as exc:
            return error_response(fmt, 404, str(exc))
        except InvalidInput as exc:
            field = f"{exc.field}: " if getattr(exc, "field", None) else ""
            return error_response(fmt, 400, f"{field}{exc}")

    return endpoint


@open311
async def services(request: Request, fmt: str) -> Response:
    return respond(fmt, services_of(request).open311.services(), "services", "service")


@open311
async def service_definition(request: Request, fmt: str) -> Response:
    code = request.path_params["code"]
    definition = services_of(request).open311.definition(code)
    return respond(fmt, definition, "service_definition", None)


def _coordinate(value: str | None, name: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        number = float(value)
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be a number in decimal degrees") from exc
    low, high = THAILAND[name]
    if not math.isfinite(number) or not low <= number <= high:
        raise Open311Error(400, f"{name} {value} is outside Thailand")
    return number


@open311
async def create_request(request: Request, fmt: str) -> Response:
    try:
        form = await request.form()
    except Exception as exc:  # a body that is not a form
        raise Open311Error(400, "send the request as application/x-www-form-urlencoded") from exc
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    services = services_of(request)
    client = await run_in_threadpool(services.open311_keys.check, values.get("api_key"))
    limit = request.app.state.settings.open311_rate_per_minute
    if not await run_in_threadpool(services.open311_keys.allow, client, limit):
        raise Open311Error(429, f"too many requests: at most {limit} per minute for this api_key")
    code = values.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, "service_code is required")
    if code not in services.catalog.categories:
        raise Open311Error(400, f"service_code {code!r} is not a service of this endpoint")
    lat = _coordinate(values.get("lat"), "lat")
    long = _coordinate(values.get("long"), "long")
    address = (values.get("address_string") or "").strip() or None
    if (lat is None) != (long is None):
        raise Open311Error(400, "lat and long go together: send both or neither")
    if lat is not None and address is not None:
        raise Open311Error(400, "send either lat/long or address_string, not both")
    if lat is None and address is None:
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    description = (values.get("description") or "").strip()
    if not description:
        raise Open311Error(400, "description is required")
    if len(description) > MAX_DESCRIPTION or len(address or "") > 500:
        raise Open311Error(400, f"description is longer than {MAX_DESCRIPTION} characters")
    attributes = {
        k[len("attribute[") : -1]: v
        for k, v in values.items()
        if k.startswith("attribute[") and k.endswith("]")
    }
    if attributes.get("urgent", "false") not in ("true", "false"):
        raise Open311Error(400, "attribute[urgent] must be true or false")
    data = RequestInput(
        service_code=code,
        description=description,
        lat=lat,
        long=long,
        address_string=address,
        phone=values.get("phone") or None,
        first_name=(values.get("first_name") or "")[:100] or None,
        last_name=(values.get("last_name") or "")[:100] or None,
        email=(values.get("email") or "")[:200] or None,
        attributes=attributes,
    )
    created = await run_in_threadpool(services.open311.create, data, client.name)
    return respond(fmt, [created], "service_requests", "request")


def _date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Open311Error(
            400, f"{name} must be a W3C date-time, e.g. 2026-12-01T00:00:00Z"
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@open311
async def list_requests(request: Request, fmt: str) -> Response:
    params = request.query_params
    start = _date(params.get("start_date"), "start_date")
    end = _date(params.get("end_date"), "end_date")
    if start is not None and end is not None:
        if end < start:
            raise Open311Error(400, "end_date is before start_date")
        if end - start > MAX_SPAN:
            raise Open311Error(400, "start_date and end_date may be at most 90 days apart")
    elif start is not None:
        end = start + MAX_SPAN
    statuses = {s for s in (params.get("status") or "").split(",") if s}
    if not statuses <= {"open", "closed"}:
        raise Open311Error(400, "status must be open or closed")
    ids = tuple(i.strip() for i in (params.get("service_request_id") or "").split(",") if i)
    query = RequestQuery(
        ids=ids[:200],
        service_code=params.get("service_code") or None,
        start=start,
        end=end,
        status=statuses.pop() if len(statuses) == 1 else None,
    )
    found = await run_in_threadpool(services_of(request).open311.search, query, utcnow())
    return respond(fmt, found, "service_requests", "request")


@open311
async def get_request(request: Request, fmt: str) -> Response:
    found = await run_in_threadpool(
        services_of(request).open311.get, request.path_params["request_id"]
    )
    return respond(fmt, [found], "service_requests", "request")
