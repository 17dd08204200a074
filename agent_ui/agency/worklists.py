"""The centre's chase lists (overdue, due today, long pending, returned, cannot be solved) and
SLA met % per clock, category and agency, for call-takers and supervisors."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent_ui.agency.pages import AgencyPages
from agent_ui.api.auth import current_actor, require_role, services_of
from agent_ui.api.parse import query_int
from ticketing.errors import NotFound
from ticketing.sla_report import WORKLISTS

CENTRE = ("agent", "supervisor", "admin")


async def page(request: Request) -> Response:
    pages: AgencyPages = request.app.state.agency_pages
    actor = await pages.pages.guard(request, "agent", "supervisor")
    if isinstance(actor, Response):
        return actor
    return pages.pages.render(request, "worklists.html", actor=actor, active="worklists")


async def counts(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *CENTRE)
    data = await run_in_threadpool(services_of(request).sla_reports.counts, actor)
    return JSONResponse(data)


async def worklist(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *CENTRE)
    name = request.path_params["name"]
    if name not in WORKLISTS:
        raise NotFound(f"no worklist {name!r}; one of {', '.join(WORKLISTS)}")
    items = await run_in_threadpool(lambda: services_of(request).sla_reports.worklist(name, actor))
    return JSONResponse({"name": name, "items": items})


async def sla_met(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, "supervisor", "admin")
    days = min(max(query_int(request, "days", 30) or 30, 1), 366)
    data = await run_in_threadpool(
        lambda: services_of(request).sla_reports.met_rates(actor, days=days)
    )
    return JSONResponse(data)
