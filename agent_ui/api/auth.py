"""Who is calling the API: a bearer token, or a signed-in console session (with CSRF header)."""

from __future__ import annotations

import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request

from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.errors import AuthenticationFailed, PermissionDenied

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "x-csrf-token"


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def session_actor(connection: HTTPConnection) -> Actor | None:
    """The user of a live server-side session; a copied cookie of an ended one is worth nothing."""
    session = connection.scope.get("session")
    if not session or not session.get("user_id") or not session.get("sid"):
        return None
    services: Services = connection.app.state.services
    return await run_in_threadpool(services.users.web_sessions.actor, str(session["sid"]))


async def current_actor(request: Request) -> Actor:
    services = services_of(request)
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("use 'Authorization: Bearer <token>'")
        return await run_in_threadpool(services.users.actor_for_token, token.strip())
    session = request.scope.get("session")
    if session and session.get("user_id"):
        if request.method in UNSAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            expected = str(session.get("csrf", ""))
            if not expected or not secrets.compare_digest(sent, expected):
                raise PermissionDenied("missing or wrong CSRF token")
        actor = await session_actor(request)
        if actor is not None:
            return actor
    raise AuthenticationFailed("sign in or send a bearer token")


def require_role(actor: Actor, *roles: str) -> None:
    if actor.role not in roles:
        raise PermissionDenied(f"this needs the role {' or '.join(roles)}; you are {actor.role}")
