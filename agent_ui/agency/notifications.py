"""Every signed-in user's notification list (routed, returned, SLA warnings and breaches)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from agent_ui.api.auth import current_actor, services_of
from agent_ui.api.errors import BadRequest
from agent_ui.api.parse import json_object, reject_unknown
from ticketing.errors import AuthenticationFailed


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
    data = await json_object(request)
    reject_unknown(data, {"ids"})
    ids = data.get("ids")
    if ids is not None and (
        not isinstance(ids, list)
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        or len(ids) > 500
    ):
        raise BadRequest("ids must be a list of up to 500 notification ids")
    changed = await run_in_threadpool(
        services_of(request).notifications.mark_read, actor.user_id, ids
    )
    return JSONResponse({"marked": changed})
