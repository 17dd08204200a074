"""Ticket resources: each handler validates with its schema, calls one service method, and
replies through the schema (``agent_ui.api.contract``)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent_ui.api import schemas
from agent_ui.api.auth import current_actor, require_role, services_of
from agent_ui.api.contract import parse_body, reply
from agent_ui.api.errors import BadRequest
from agent_ui.api.parse import query_bool, query_datetime, query_int
from ticketing.errors import InvalidInput
from ticketing.filters import TicketFilter
from ticketing.status import TicketStatus
from ticketing.tickets import NewTicket

WRITERS = ("agent", "supervisor")
READERS = ("agent", "supervisor", "admin")


def _reference(request: Request) -> str:
    return str(request.path_params["reference"])


async def create_ticket(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *WRITERS)
    body = await parse_body(request, schemas.NewTicket)
    if not body.description.replace("\x00", "").strip():
        raise InvalidInput("description is required", "description")
    new = NewTicket(**body.model_dump())
    ticket = await run_in_threadpool(services_of(request).tickets.create, new, actor)
    location = {"Location": f"/api/v1/tickets/{ticket['reference']}"}
    return reply(schemas.Ticket, ticket, 201, location)


async def get_ticket(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *READERS)
    ticket = await run_in_threadpool(
        services_of(request).tickets.detail, _reference(request), actor
    )
    return reply(schemas.TicketDetail, ticket)


def _filters(request: Request) -> TicketFilter:
    statuses = tuple(s for s in request.query_params.getlist("status") if s)
    statuses = tuple(p for s in statuses for p in s.split(",") if p)
    valid = {s.value for s in TicketStatus}
    bad = [s for s in statuses if s not in valid]
    if bad:
        raise BadRequest(f"unknown status {bad[0]!r}; one of {', '.join(sorted(valid))}")
    return TicketFilter(
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


async def list_tickets(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *READERS)
    filters = _filters(request)
    limit = query_int(request, "limit", 50) or 50
    cursor = query_int(request, "cursor")
    items, next_cursor = await run_in_threadpool(
        lambda: services_of(request).tickets.search(filters, actor, cursor=cursor, limit=limit)
    )
    return reply(schemas.TicketPage, {"items": items, "next_cursor": next_cursor})


def _sla_filter(request: Request) -> str | None:
    value = request.query_params.get("sla") or None
    if value not in (None, "breached", "warning"):
        raise BadRequest(f"unknown sla {value!r}; one of breached, warning")
    return value


async def update_ticket(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *WRITERS)
    body = await parse_body(request, schemas.TicketEdit)
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    ticket = await run_in_threadpool(
        lambda: services_of(request).tickets.update_fields(
            _reference(request), changes, actor, expected_version=body.version
        )
    )
    return reply(schemas.Ticket, ticket)


async def transition_ticket(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *WRITERS)
    body = await parse_body(request, schemas.Transition)
    tickets = services_of(request).tickets
    reference = _reference(request)
    if body.to is TicketStatus.ROUTED:
        ticket = await run_in_threadpool(
            lambda: tickets.route(
                reference,
                body.agency_code,
                actor,
                note=body.note or "",
                expected_version=body.version,
            )
        )
    else:
        ticket = await run_in_threadpool(
            lambda: tickets.transition(
                reference,
                body.to.value,
                actor,
                reason=body.reason,
                duplicate_of=body.duplicate_of,
                resolution=body.resolution,
                expected_version=body.version,
            )
        )
    return reply(schemas.Ticket, ticket)


async def route_ticket(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *WRITERS)
    body = await parse_body(request, schemas.Routing)
    ticket = await run_in_threadpool(
        lambda: services_of(request).tickets.route(
            _reference(request),
            body.agency_code,
            actor,
            note=body.note or "",
            expected_version=body.version,
        )
    )
    return reply(schemas.Ticket, ticket)


async def add_update(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *WRITERS)
    body = await parse_body(request, schemas.NewCitizenUpdate)
    update = await run_in_threadpool(
        lambda: services_of(request).tickets.add_citizen_update(
            _reference(request), body.message, actor, channel=body.channel
        )
    )
    return reply(schemas.CitizenUpdate, update, 201)


async def get_audit(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *READERS)
    events = await run_in_threadpool(services_of(request).tickets.audit, _reference(request), actor)
    return reply(schemas.AuditPage, {"items": events})


async def reveal_ticket(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, "admin")
    body = await parse_body(request, schemas.Reveal)
    ticket = await run_in_threadpool(
        services_of(request).tickets.reveal, _reference(request), actor, body.reason
    )
    return reply(schemas.TicketDetail, ticket, headers={"Cache-Control": "no-store"})


async def suggest_agency(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *READERS)
    reference = _reference(request)
    services = services_of(request)
    await run_in_threadpool(services.tickets.get, reference, actor)
    suggestion = await run_in_threadpool(services.tickets.suggestion, reference)
    agency = services.catalog.agencies[suggestion.agency]
    body = {
        "agency_code": suggestion.agency,
        "name_th": agency.name_th,
        "name_en": agency.name_en,
        "rule": suggestion.why,
    }
    return reply(schemas.SuggestedAgency, body)


routes = [
    Route("/tickets", create_ticket, methods=["POST"]),
    Route("/tickets", list_tickets, methods=["GET"]),
    Route("/tickets/{reference}", get_ticket, methods=["GET"]),
    Route("/tickets/{reference}", update_ticket, methods=["PATCH"]),
    Route("/tickets/{reference}/transitions", transition_ticket, methods=["POST"]),
    Route("/tickets/{reference}/routing", route_ticket, methods=["POST"]),
    Route("/tickets/{reference}/updates", add_update, methods=["POST"]),
    Route("/tickets/{reference}/audit", get_audit, methods=["GET"]),
    Route("/tickets/{reference}/reveal", reveal_ticket, methods=["POST"]),
    Route("/tickets/{reference}/suggested-agency", suggest_agency, methods=["GET"]),
]
