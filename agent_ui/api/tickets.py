"""Ticket resources: each handler validates, calls one service method, serialises."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent_ui.api.auth import current_actor, require_role, services_of
from agent_ui.api.errors import BadRequest
from agent_ui.api.parse import (
    json_object,
    optional_bool,
    optional_int,
    optional_str,
    query_bool,
    query_datetime,
    query_int,
    reject_unknown,
)
from ticketing.errors import InvalidInput
from ticketing.filters import TicketFilter
from ticketing.status import TicketStatus
from ticketing.tickets import EDITABLE_FIELDS, NewTicket

WRITERS = ("agent", "supervisor")
READERS = ("agent", "supervisor", "admin")


async def create_ticket(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *WRITERS)
    data = await json_object(request)
    reject_unknown(
        data,
        {
            "description",
            "category",
            "province_code",
            "district_code",
            "caller_phone",
            "citizen_id",
            "urgent",
            "channel",
        },
    )
    description = optional_str(data, "description")
    if not description or not description.replace("\x00", "").strip():
        raise InvalidInput("description is required", "description")
    new = NewTicket(
        description=description,
        category=optional_str(data, "category", 32),
        province_code=optional_str(data, "province_code", 2),
        district_code=optional_str(data, "district_code", 4),
        caller_phone=optional_str(data, "caller_phone", 32),
        citizen_id=optional_str(data, "citizen_id", 32),
        urgent=optional_bool(data, "urgent") or False,
        channel=optional_str(data, "channel", 16) or "api",
    )
    ticket = await run_in_threadpool(services_of(request).tickets.create, new, actor)
    return JSONResponse(
        ticket, status_code=201, headers={"Location": f"/api/v1/tickets/{ticket['reference']}"}
    )


async def get_ticket(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *READERS)
    reference = request.path_params["reference"]
    ticket = await run_in_threadpool(services_of(request).tickets.detail, reference, actor)
    return JSONResponse(ticket)


async def list_tickets(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *READERS)
    statuses = tuple(s for s in request.query_params.getlist("status") if s)
    statuses = tuple(p for s in statuses for p in s.split(",") if p)
    valid = {s.value for s in TicketStatus}
    bad = [s for s in statuses if s not in valid]
    if bad:
        raise BadRequest(f"unknown status {bad[0]!r}; one of {', '.join(sorted(valid))}")
    filters = TicketFilter(
        status=statuses,
        category=request.query_params.get("category") or None,
        province_code=request.query_params.get("province") or None,
        agency_code=request.query_params.get("agency") or None,
        urgent=query_bool(request, "urgent"),
        created_from=query_datetime(request, "created_from"),
        created_to=query_datetime(request, "created_to"),
        overdue=query_bool(request, "overdue"),
        caller_phone=request.query_params.get("phone") or None,
        citizen_id=request.query_params.get("citizen_id") or None,
        text=request.query_params.get("q") or None,
        sla=_sla_filter(request),
    )
    limit = query_int(request, "limit", 50) or 50
    cursor = query_int(request, "cursor")
    items, next_cursor = await run_in_threadpool(
        services_of(request).tickets.search, filters, actor, cursor=cursor, limit=limit
    )
    return JSONResponse({"items": items, "next_cursor": next_cursor})


def _sla_filter(request: Request) -> str | None:
    value = request.query_params.get("sla") or None
    if value not in (None, "breached", "warning"):
        raise BadRequest(f"unknown sla {value!r}; one of breached, warning")
    return value


async def update_ticket(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *WRITERS)
    data = await json_object(request)
    reject_unknown(data, {*EDITABLE_FIELDS, "version"})
    version = optional_int(data, "version")
    changes: dict[str, Any] = {k: v for k, v in data.items() if k != "version"}
    ticket = await run_in_threadpool(
        lambda: services_of(request).tickets.update_fields(
            request.path_params["reference"], changes, actor, expected_version=version
        )
    )
    return JSONResponse(ticket)


async def transition_ticket(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *WRITERS)
    data = await json_object(request)
    reject_unknown(
        data, {"to", "reason", "duplicate_of", "resolution", "version", "agency_code", "note"}
    )
    target = optional_str(data, "to", 32)
    if not target:
        raise InvalidInput("'to' names the new status", "to")
    tickets = services_of(request).tickets
    reference = request.path_params["reference"]
    version = optional_int(data, "version")
    if target == TicketStatus.ROUTED.value:
        ticket = await run_in_threadpool(
            lambda: tickets.route(
                reference,
                optional_str(data, "agency_code", 64),
                actor,
                note=optional_str(data, "note", 2000) or "",
                expected_version=version,
            )
        )
    else:
        ticket = await run_in_threadpool(
            lambda: tickets.transition(
                reference,
                target,
                actor,
                reason=optional_str(data, "reason", 2000),
                duplicate_of=optional_str(data, "duplicate_of", 20),
                resolution=optional_str(data, "resolution"),
                expected_version=version,
            )
        )
    return JSONResponse(ticket)


async def route_ticket(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *WRITERS)
    data = await json_object(request)
    reject_unknown(data, {"agency_code", "note", "version"})
    ticket = await run_in_threadpool(
        lambda: services_of(request).tickets.route(
            request.path_params["reference"],
            optional_str(data, "agency_code", 64),
            actor,
            note=optional_str(data, "note", 2000) or "",
            expected_version=optional_int(data, "version"),
        )
    )
    return JSONResponse(ticket)


async def add_update(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *WRITERS)
    data = await json_object(request)
    reject_unknown(data, {"message", "channel"})
    update = await run_in_threadpool(
        lambda: services_of(request).tickets.add_citizen_update(
            request.path_params["reference"],
            optional_str(data, "message", 5000) or "",
            actor,
            channel=optional_str(data, "channel", 16) or "phone",
        )
    )
    return JSONResponse(update, status_code=201)


async def get_audit(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *READERS)
    events = await run_in_threadpool(
        services_of(request).tickets.audit, request.path_params["reference"], actor
    )
    return JSONResponse({"items": events})


async def suggest_agency(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *READERS)
    reference = request.path_params["reference"]
    services = services_of(request)
    await run_in_threadpool(services.tickets.get, reference, actor)
    suggestion = await run_in_threadpool(services.tickets.suggestion, reference)
    agency = services.catalog.agencies[suggestion.agency]
    return JSONResponse(
        {
            "agency_code": suggestion.agency,
            "name_th": agency.name_th,
            "name_en": agency.name_en,
            "rule": suggestion.why,
        }
    )


routes = [
    Route("/tickets", create_ticket, methods=["POST"]),
    Route("/tickets", list_tickets, methods=["GET"]),
    Route("/tickets/{reference}", get_ticket, methods=["GET"]),
    Route("/tickets/{reference}", update_ticket, methods=["PATCH"]),
    Route("/tickets/{reference}/transitions", transition_ticket, methods=["POST"]),
    Route("/tickets/{reference}/routing", route_ticket, methods=["POST"]),
    Route("/tickets/{reference}/updates", add_update, methods=["POST"]),
    Route("/tickets/{reference}/audit", get_audit, methods=["GET"]),
    Route("/tickets/{reference}/suggested-agency", suggest_agency, methods=["GET"]),
]
