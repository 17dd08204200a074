"""Call-takers' presence: an agent sets their own state; supervisors and admins see everyone's."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent_ui.api import schemas
from agent_ui.api.auth import current_actor, require_role, services_of
from agent_ui.api.contract import parse_body, reply
from ticketing.presence import AgentState


async def set_my_state(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, "agent")
    body = await parse_body(request, schemas.AgentStateRequest)
    presence = await run_in_threadpool(
        services_of(request).presence.request_state,
        actor.name,
        actor.role,
        AgentState(body.state),
        body.reason,
    )
    return reply(schemas.AgentPresence, presence)


async def my_state(request: Request) -> JSONResponse:
    """The signed-in call-taker's own presence (the console shows it when it opens)."""
    actor = await current_actor(request)
    require_role(actor, "agent")
    presence = await run_in_threadpool(services_of(request).presence.current, actor.name)
    return reply(schemas.AgentPresence, presence, headers={"Cache-Control": "no-store"})


async def list_agents(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, "supervisor", "admin")
    items = await run_in_threadpool(services_of(request).presence.list_agents, actor.provinces)
    return reply(schemas.AgentList, {"items": items}, headers={"Cache-Control": "no-store"})


routes = [
    Route("/agents/me/state", set_my_state, methods=["PUT"]),
    Route("/agents/me", my_state, methods=["GET"]),
    Route("/agents", list_agents, methods=["GET"]),
]
