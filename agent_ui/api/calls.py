"""The calls record and the callback requests (issue 13), read through ticketing's queue read
model: supervisors and admins see every call, a call-taker only the calls they took; numbers
masked for the roles that see them masked. Commands for a live call (transfer, hold, mute) go
to the IVR node holding it through ticketing's call command stream: from the officer on the
call, or a supervisor; 202, since the node carries them out. A listen-in: supervisors and admins
only, on their own SIP phone."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent_ui.api import schemas
from agent_ui.api.auth import current_actor, require_role, services_of
from agent_ui.api.contract import parse_body, reply
from agent_ui.api.errors import BadRequest
from agent_ui.api.parse import query_int
from ticketing.errors import PermissionDenied

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


async def _commanded_call(request: Request) -> tuple[str, str]:
    """The call and who commands it: the officer on the call, or a supervisor."""
    actor = await current_actor(request)
    require_role(actor, "agent", "supervisor")
    call_id = request.path_params["call_id"]
    if actor.role == "agent":
        reads = services_of(request).queue_reads
        agent = await run_in_threadpool(reads.call_agent, call_id)
        if agent != actor.name:
            raise PermissionDenied("only the officer on the call may do this")
    return call_id, actor.name


async def transfer_call(request: Request) -> JSONResponse:
    call_id, by = await _commanded_call(request)
    body = await parse_body(request, schemas.TransferRequest)
    commands = services_of(request).call_commands
    sent = await run_in_threadpool(lambda: commands.transfer(call_id, body.target, by=by))
    return reply(schemas.CallCommandSent, sent, status=202)


async def call_leg(request: Request) -> JSONResponse:
    call_id, by = await _commanded_call(request)
    body = await parse_body(request, schemas.LegRequest)
    commands = services_of(request).call_commands
    sent = await run_in_threadpool(lambda: commands.leg(call_id, body.action, by=by))
    return reply(schemas.CallCommandSent, sent, status=202)


async def listen_call(request: Request) -> JSONResponse:
    """The node dials the supervisor's own phone (``agent:<name>``) and taps the conversation
    into it, listen only; the listen-in is logged (PDPA) and on the call's audit."""
    actor = await current_actor(request)
    require_role(actor, "supervisor", "admin")
    call_id = request.path_params["call_id"]
    commands = services_of(request).call_commands
    sent = await run_in_threadpool(
        lambda: commands.listen(call_id, by=actor.name, user_id=actor.user_id)
    )
    return reply(schemas.CallCommandSent, sent, status=202)


routes = [
    Route("/calls/{call_id}/listen", listen_call, methods=["POST"]),
    Route("/calls/{call_id}/transfer", transfer_call, methods=["POST"]),
    Route("/calls/{call_id}/leg", call_leg, methods=["POST"]),
    Route("/calls", list_calls, methods=["GET"]),
    Route("/callbacks", list_callbacks, methods=["GET"]),
]
