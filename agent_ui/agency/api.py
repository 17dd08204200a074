"""JSON for the agency console: each handler checks the role, calls one AgencyWork method.

Bodies are parsed and replies checked with the models in ``agent_ui.api.schemas`` (Agency*). The
routes are the console's own (``/agency/api/...``, mounted at the site root beside the pages),
not part of the public ``/api/v1`` contract, so they are not in ``contract.OPERATIONS``."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from agent_ui.api import schemas
from agent_ui.api.auth import current_actor, require_role, services_of
from agent_ui.api.contract import parse_body, reply
from ticketing.actors import Actor


async def _agency_actor(request: Request) -> Actor:
    actor = await current_actor(request)
    require_role(actor, "agency")
    return actor


async def worklist(request: Request) -> JSONResponse:
    actor = await _agency_actor(request)
    items = await run_in_threadpool(services_of(request).agency_work.worklist, actor)
    return reply(schemas.AgencyWorklist, {"items": items, "count": len(items)})


async def detail(request: Request) -> JSONResponse:
    actor = await _agency_actor(request)
    ticket = await run_in_threadpool(
        services_of(request).agency_work.detail, request.path_params["reference"], actor
    )
    return reply(schemas.AgencyTicketDetail, ticket)


async def accept(request: Request) -> JSONResponse:
    actor = await _agency_actor(request)
    ticket = await run_in_threadpool(
        services_of(request).agency_work.accept, request.path_params["reference"], actor
    )
    return reply(schemas.AgencyTicket, ticket)


async def return_ticket(request: Request) -> JSONResponse:
    actor = await _agency_actor(request)
    body = await parse_body(request, schemas.AgencyReturn)
    result = await run_in_threadpool(
        services_of(request).agency_work.return_to_centre,
        request.path_params["reference"],
        actor,
        body.reason,
    )
    return reply(schemas.AgencyReturned, result)


async def progress(request: Request) -> JSONResponse:
    actor = await _agency_actor(request)
    body = await parse_body(request, schemas.AgencyProgress)
    update = await run_in_threadpool(
        services_of(request).agency_work.progress_report,
        request.path_params["reference"],
        actor,
        body.message,
    )
    return reply(schemas.CitizenUpdate, update, status=201)


async def result(request: Request) -> JSONResponse:
    actor = await _agency_actor(request)
    body = await parse_body(request, schemas.AgencyResult)
    ticket = await run_in_threadpool(
        services_of(request).agency_work.post_result,
        request.path_params["reference"],
        actor,
        body.resolution,
        body.resolution_type or "resolved",
    )
    return reply(schemas.AgencyTicket, ticket)
