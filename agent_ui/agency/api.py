"""JSON for the agency console: each handler checks the role, calls one AgencyWork method."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from agent_ui.api.auth import current_actor, require_role, services_of
from agent_ui.api.parse import json_object, optional_str, reject_unknown
from ticketing.actors import Actor


async def _agency_actor(request: Request) -> Actor:
    actor = await current_actor(request)
    require_role(actor, "agency")
    return actor


async def worklist(request: Request) -> JSONResponse:
    actor = await _agency_actor(request)
    items = await run_in_threadpool(services_of(request).agency_work.worklist, actor)
    return JSONResponse({"items": items, "count": len(items)})


async def detail(request: Request) -> JSONResponse:
    actor = await _agency_actor(request)
    ticket = await run_in_threadpool(
        services_of(request).agency_work.detail, request.path_params["reference"], actor
    )
    return JSONResponse(ticket)


async def accept(request: Request) -> JSONResponse:
    actor = await _agency_actor(request)
    ticket = await run_in_threadpool(
        services_of(request).agency_work.accept, request.path_params["reference"], actor
    )
    return JSONResponse(ticket)


async def return_ticket(request: Request) -> JSONResponse:
    actor = await _agency_actor(request)
    data = await json_object(request)
    reject_unknown(data, {"reason"})
    result = await run_in_threadpool(
        services_of(request).agency_work.return_to_centre,
        request.path_params["reference"],
        actor,
        optional_str(data, "reason", 2000) or "",
    )
    return JSONResponse(result)


async def progress(request: Request) -> JSONResponse:
    actor = await _agency_actor(request)
    data = await json_object(request)
    reject_unknown(data, {"message"})
    update = await run_in_threadpool(
        services_of(request).agency_work.progress_report,
        request.path_params["reference"],
        actor,
        optional_str(data, "message", 5000) or "",
    )
    return JSONResponse(update, status_code=201)


async def result(request: Request) -> JSONResponse:
    actor = await _agency_actor(request)
    data = await json_object(request)
    reject_unknown(data, {"resolution", "resolution_type"})
    ticket = await run_in_threadpool(
        services_of(request).agency_work.post_result,
        request.path_params["reference"],
        actor,
        optional_str(data, "resolution", 20_000) or "",
        optional_str(data, "resolution_type", 32) or "resolved",
    )
    return JSONResponse(ticket)
