"""The dashboard's survey tiles (issue 12): ratings from result calls and the post-call survey."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from agent_ui.api.auth import current_actor, require_role, services_of
from ticketing.timeutil import utcnow

WATCHERS = ("supervisor", "admin")


async def survey_figures(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *WATCHERS)
    figures = await run_in_threadpool(services_of(request).survey.figures, actor)
    return JSONResponse({**figures, "generated_at": utcnow().isoformat()})
