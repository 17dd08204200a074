"""Every signed-in user's notification list (routed, returned, SLA warnings and breaches)."""

from __future__ import annotations

from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from agent_ui.api.auth import current_actor, services_of
from agent_ui.api.contract import parse_body
from agent_ui.api.schemas import Body
from ticketing.errors import AuthenticationFailed


class MarkRead(Body):
    ids: list[int] | None = Field(None, max_length=500, description="none: all")


async def listing(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    if actor.user_id is None:
        raise AuthenticationFailed("notifications belong to a signed-in user")
    data = await run_in_threadpool(services_of(request).notifications.for_user, actor.user_id)
    return JSONResponse(data)


async def mark_read(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    if actor.user_id is None:
        raise AuthenticationFailed("notifications belong to a signed-in user")
    ids = (await parse_body(request, MarkRead)).ids
    changed = await run_in_threadpool(
        services_of(request).notifications.mark_read, actor.user_id, ids
    )
    return JSONResponse({"marked": changed})
