"""The browser console and supervisor dashboard (HTML, sign-in, live updates)."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from config.settings import Settings
from ticketing.container import Services


def console_routes(settings: Settings, services: Services) -> list[BaseRoute]:
    """Routes of the console; mounted at the site root by ``agent_ui.app.create_app``."""
    return []


def console_middleware(settings: Settings) -> list[Middleware]:
    return []
