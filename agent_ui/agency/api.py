"""JSON for the agency console: each handler checks the role, calls one AgencyWork method."""

from __future__ import annotations

from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from agent_ui.api.auth import current_actor, require_role, services_of
from agent_ui.api.contract import parse_body
from agent_ui.api.schemas import Body
from ticketing.actors import Actor


class ReturnBody(Body):
    reason: str = Field("", max_length=2000)


class ProgressBody(Body):
    message: str = Field("", max_length=5000)


class ResultBody(Body):
    resolution: str = Field("", max_length=20_000)
    resolution_type: str = Field("resolved", max_length=32)


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
    body = await parse_body(request, ReturnBody)
    result = await run_in_threadpool(
        services_of(request).agency_work.return_to_centre,
        request.path_params["reference"],
        actor,
        body.reason,
    )
    return JSONResponse(result)


async def progress(request: Request) -> JSONResponse:
    actor = await _agency_actor(request)
    body = await parse_body(request, ProgressBody)
    update = await run_in_threadpool(
        services_of(request).agency_work.progress_report,
        request.path_params["reference"],
        actor,
        body.message,
    )
    return JSONResponse(update, status_code=201)


async def result(request: Request) -> JSONResponse:
    actor = await _agency_actor(request)
    body = await parse_body(request, ResultBody)
    ticket = await run_in_threadpool(
        services_of(request).agency_work.post_result,
        request.path_params["reference"],
        actor,
        body.resolution,
        body.resolution_type or "resolved",
    )
    return JSONResponse(ticket)
