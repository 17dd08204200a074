"""The calls record and the callback requests (issue 13), read through ticketing's queue read
model: supervisors and admins see every call, a call-taker only the calls they took; numbers
masked for the roles that see them masked. Commands for a live call (transfer, hold, mute) go
to the IVR node holding it through ticketing's call command stream: from the officer on the
call, or a supervisor; 202, since the node carries them out. A listen-in: supervisors and admins
only, on their own SIP phone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent_ui.api import schemas
from agent_ui.api.auth import current_actor, require_role, services_of
from agent_ui.api.contract import parse_body, reply
from agent_ui.api.errors import BadRequest
from agent_ui.api.parse import query_int
from ticketing.actors import Actor
from ticketing.call_commands import CallCommands
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


async def _commanded_call(request: Request, *roles: str) -> tuple[str, Actor]:
    """The call and who commands it: among ``roles``; an agent only for the call they are on."""
    actor = await current_actor(request)
    require_role(actor, *roles)
    call_id = request.path_params["call_id"]
    if actor.role == "agent":
        reads = services_of(request).queue_reads
        agent = await run_in_threadpool(reads.call_agent, call_id)
        if agent != actor.name:
            raise PermissionDenied("only the officer on the call may do this")
    return call_id, actor


Send = Callable[[CallCommands, str, Actor, Any], dict[str, Any]]


async def _post_command(
    request: Request, roles: tuple[str, ...], body_model: type[BaseModel] | None, send: Send
) -> JSONResponse:
    """One command for the node holding the call: who may (first), the body, sent, 202 (the
    node carries it out)."""
    call_id, actor = await _commanded_call(request, *roles)
    body = await parse_body(request, body_model) if body_model is not None else None
    commands = services_of(request).call_commands
    sent = await run_in_threadpool(send, commands, call_id, actor, body)
    return reply(schemas.CallCommandSent, sent, status=202)


COMMANDERS = ("agent", "supervisor")  # the officer on the call, or a supervisor


async def transfer_call(request: Request) -> JSONResponse:
    return await _post_command(
        request,
        COMMANDERS,
        schemas.TransferRequest,
        lambda c, call_id, actor, body: c.transfer(call_id, body.target, by=actor.name),
    )


async def call_leg(request: Request) -> JSONResponse:
    return await _post_command(
        request,
        COMMANDERS,
        schemas.LegRequest,
        lambda c, call_id, actor, body: c.leg(call_id, body.action, by=actor.name),
    )


async def listen_call(request: Request) -> JSONResponse:
    """The node dials the supervisor's own phone (``agent:<name>``) and taps the conversation
    into it, listen only; the listen-in is logged (PDPA) and on the call's audit."""
    return await _post_command(
        request,
        ("supervisor", "admin"),
        None,
        lambda c, call_id, actor, _body: c.listen(call_id, by=actor.name, user_id=actor.user_id),
    )


routes = [
    Route("/calls/{call_id}/listen", listen_call, methods=["POST"]),
    Route("/calls/{call_id}/transfer", transfer_call, methods=["POST"]),
    Route("/calls/{call_id}/leg", call_leg, methods=["POST"]),
    Route("/calls", list_calls, methods=["GET"]),
    Route("/callbacks", list_callbacks, methods=["GET"]),
]
