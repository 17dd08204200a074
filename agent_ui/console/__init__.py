"""The browser console and supervisor dashboard (HTML, sign-in, live updates)."""

from __future__ import annotations

from pathlib import Path

from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from agent_ui.api.errors import error_response
from agent_ui.console import console_api, survey
from agent_ui.console.admin import AdminPages
from agent_ui.console.auth_session import SHIFT_SECONDS, SessionExpiry, signed_in_actor
from agent_ui.console.live import LiveHub, event_stream
from agent_ui.console.pages import Pages, make_templates
from agent_ui.console.recordings import recording
from agent_ui.console.secret import session_secret
from agent_ui.console.security import SecurityHeaders
from config.settings import Settings
from ticketing.container import Services

STATIC_DIR = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "hotline_session"


def console_routes(
    settings: Settings, services: Services, hub: LiveHub | None = None
) -> list[BaseRoute]:
    """Routes of the console; mounted at the site root by ``agent_ui.app.create_app``, whose
    lifespan owns ``hub`` (this process's one stream reader) and stops it at shutdown."""
    pages = Pages(make_templates())
    admin = AdminPages(pages)
    hub = hub or LiveHub(services.bus, services.queue_reads.scopes.all)

    async def live(request: Request) -> Response:
        actor = await signed_in_actor(request)
        if actor is None:
            return error_response(401, "unauthenticated", "sign in to follow live updates")
        subscriber = hub.subscribe(actor)

        async def still_signed_in() -> bool:
            return await signed_in_actor(request) is not None

        return StreamingResponse(
            event_stream(hub, subscriber, still_signed_in),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return [
        Route("/", pages.home, methods=["GET"]),
        Route("/login", pages.login_form, methods=["GET"]),
        Route("/login", pages.login, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/console", pages.console, methods=["GET"]),
        Route("/tickets/{reference}", pages.console, methods=["GET"]),
        Route("/dashboard", pages.dashboard, methods=["GET"]),
        Route("/dashboard/export.csv", console_api.export_csv, methods=["GET"]),
        Route("/admin/users", admin.users, methods=["GET"]),
        Route("/admin/users", admin.add_user, methods=["POST"]),
        Route("/admin/users/{username}", admin.update_user, methods=["POST"]),
        Route("/admin/users/{username}/sign-out", admin.sign_out_everywhere, methods=["POST"]),
        Route("/recordings/{recording_id}", recording, methods=["GET"]),
        Route("/console/live", live, methods=["GET"]),
        Route("/console/api/queue", console_api.queue, methods=["GET"]),
        Route("/console/api/dashboard", console_api.dashboard, methods=["GET"]),
        Route("/console/api/survey", survey.survey_figures, methods=["GET"]),  # issue 12
        Route("/console/api/wallboard", console_api.wallboard, methods=["GET"]),
        Route("/console/api/tickets/{reference}/claim", console_api.claim, methods=["POST"]),
        Route("/console/api/tickets/{reference}/release", console_api.release, methods=["POST"]),
        Route(
            "/console/api/tickets/{reference}/history", console_api.caller_history, methods=["GET"]
        ),
        Mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static"),
    ]


def console_middleware(settings: Settings) -> list[Middleware]:
    secure = settings.cookie_secure
    return [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=session_secret(settings),
            session_cookie=SESSION_COOKIE,
            max_age=SHIFT_SECONDS,
            same_site="lax",
            https_only=secure,
        ),
        Middleware(SessionExpiry),
    ]
