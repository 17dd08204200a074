"""The calls record and the callback requests (issue 13), read through ticketing's queue read
model: supervisors and admins see every call, a call-taker only the calls they took; numbers
masked for the roles that see them masked."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent_ui.api import schemas
from agent_ui.api.auth import current_actor, require_role, services_of
from agent_ui.api.contract import reply
from agent_ui.api.errors import BadRequest
from agent_ui.api.parse import query_int

MAX_LIMIT = 200
NO_STORE = {"Cache-Control": "no-store"}


def _limit(request: Request, default: int) -> int:
    limit = query_int(request, "limit", default)
    if limit is None:
        return default
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"query parameter limit must be 1 to {MAX_LIMIT}")
    return limit


async def list_calls(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, "agent", "supervisor", "admin")
    limit = _limit(request, 50)
    reads = services_of(request).queue_reads
    items = await run_in_threadpool(reads.calls, actor, limit)
    return reply(schemas.CallList, {"items": items}, headers=NO_STORE)


async def list_callbacks(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, "agent", "supervisor", "admin")
    limit = _limit(request, 100)
    reads = services_of(request).queue_reads
    items = await run_in_threadpool(reads.callbacks, actor, limit)
    return reply(schemas.CallbackList, {"items": items}, headers=NO_STORE)


routes = [
    Route("/calls", list_calls, methods=["GET"]),
    Route("/callbacks", list_callbacks, methods=["GET"]),
]
