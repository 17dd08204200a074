"""``create_app(settings, services)``: the web process's Starlette application."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount

from agent_ui import access_log
from agent_ui.agency import AgencyPages, agency_routes
from agent_ui.api import agents, calls, health, openapi, reference_data, tickets
from agent_ui.api.errors import (
    BadRequest,
    bad_request_handler,
    domain_error_handler,
    http_error_handler,
    unexpected_error_handler,
)
from agent_ui.console import console_middleware, console_routes
from agent_ui.console.live import LiveHub
from agent_ui.open311 import open311_routes
from config.settings import Settings
from ticketing.container import Services
from ticketing.errors import DomainError


def create_app(settings: Settings, services: Services) -> Starlette:
    agency_pages = AgencyPages()
    # This process's one reader of the event stream for every SSE client; the lifespan owns it
    # (it starts with the first subscriber and is stopped when the server shuts down).
    hub = LiveHub(services.bus, services.queue_reads.scopes.all)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await hub.stop()

    api_routes = [*tickets.routes, *reference_data.routes, *health.routes, *openapi.routes]
    api_routes += agents.routes + calls.routes
    app = Starlette(
        routes=[
            Mount("/api/v1", routes=api_routes),
            *health.root_routes,
            *agency_routes(agency_pages),
            *open311_routes(),
            *console_routes(settings, services, hub),
        ],
        lifespan=lifespan,
        middleware=console_middleware(settings),
        exception_handlers={
            DomainError: domain_error_handler,
            BadRequest: bad_request_handler,
            HTTPException: http_error_handler,
            Exception: unexpected_error_handler,
        },
    )
    access_log.install()  # no phone numbers or IDs in access logs, whoever serves the app
    app.state.services = services
    app.state.live_hub = hub
    app.state.agency_pages = agency_pages
    app.state.settings = settings
    return app
