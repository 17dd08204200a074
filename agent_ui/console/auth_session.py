"""Console sessions: cookie flags, shift and idle expiry, CSRF tokens, the signed-in user."""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import quote

from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from agent_ui.api.auth import session_actor
from ticketing.actors import Actor

SHIFT_SECONDS = 12 * 3600  # a session never outlives a long shift
IDLE_SECONDS = 60 * 60  # nor an hour without a request
TOUCH_EVERY = 60  # rewrite the cookie at most once a minute for the idle clock
CSRF_FIELD = "csrf_token"


class SessionExpiry:
    """Clears a signed-in session past its shift or idle limit, before any handler reads it.

    Sits inside Starlette's SessionMiddleware so the API (which trusts ``session["user_id"]``)
    never sees an expired session either."""

    def __init__(
        self, app: ASGIApp, shift_seconds: int = SHIFT_SECONDS, idle_seconds: int = IDLE_SECONDS
    ) -> None:
        self.app = app
        self.shift_seconds = shift_seconds
        self.idle_seconds = idle_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session") if scope["type"] == "http" else None
        if session is not None and session.get("user_id"):
            now = time.time()
            login_at = float(session.get("login_at", 0))
            seen_at = float(session.get("seen_at", 0))
            if now - login_at > self.shift_seconds or now - seen_at > self.idle_seconds:
                session.clear()
                session["flash"] = "expired"
            elif now - seen_at > TOUCH_EVERY and not _is_event_stream(scope):
                session["seen_at"] = now
        await self.app(scope, receive, send)


def _is_event_stream(scope: Scope) -> bool:
    # An open live stream is not the user doing something; it must not keep a session alive.
    return str(scope.get("path", "")).startswith("/console/live")


def csrf_token(request: HTTPConnection) -> str:
    session = request.session
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


def csrf_ok(request: Request, sent: str | None) -> bool:
    expected = str(request.session.get("csrf", ""))
    return bool(expected) and bool(sent) and secrets.compare_digest(str(sent), expected)


def start_session(request: Request, actor: Actor, token: str) -> None:
    """A new session on sign-in: nothing from before survives (no session fixation). ``token``
    names the server-side session row, which is what makes the cookie worth anything."""
    session = request.session
    session.clear()
    now = time.time()
    session.update(
        {
            "user_id": actor.user_id,
            "sid": token,
            "login_at": now,
            "seen_at": now,
            "csrf": secrets.token_urlsafe(32),
        }
    )
    session["user_id"] = actor.user_id  # marks the session modified


async def signed_in_actor(request: HTTPConnection) -> Actor | None:
    return await session_actor(request)


def login_url(request: HTTPConnection) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return "/login?next=" + quote(target, safe="")


def safe_next(value: str | None) -> str:
    """Only local paths: an open redirect would let a phishing link borrow our login page."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/console"
    return value


def session_info(request: HTTPConnection) -> dict[str, Any]:
    session = request.scope.get("session") or {}
    return {"login_at": session.get("login_at"), "seen_at": session.get("seen_at")}
