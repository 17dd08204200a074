"""The agency console (worklist, accept, return, progress, result) and every user's
notification list. Mounted at the site root by ``agent_ui.app.create_app``."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from agent_ui.agency import api, notifications, worklists
from agent_ui.agency.pages import AgencyPages

__all__ = ["AgencyPages", "agency_routes"]

STATIC_DIR = Path(__file__).resolve().parent / "static"


def agency_routes(pages: AgencyPages) -> list[BaseRoute]:
    return [
        Route("/agency", pages.agency, methods=["GET"]),
        Route("/worklists", worklists.page, methods=["GET"]),
        Route("/worklists/api/counts", worklists.counts, methods=["GET"]),
        Route("/worklists/api/sla-met", worklists.sla_met, methods=["GET"]),
        Route("/worklists/api/lists/{name}", worklists.worklist, methods=["GET"]),
        Route("/agency/api/worklist", api.worklist, methods=["GET"]),
        Route("/agency/api/tickets/{reference}", api.detail, methods=["GET"]),
        Route("/agency/api/tickets/{reference}/accept", api.accept, methods=["POST"]),
        Route("/agency/api/tickets/{reference}/return", api.return_ticket, methods=["POST"]),
        Route("/agency/api/tickets/{reference}/progress", api.progress, methods=["POST"]),
        Route("/agency/api/tickets/{reference}/result", api.result, methods=["POST"]),
        Route("/notifications/api", notifications.listing, methods=["GET"]),
        Route("/notifications/api/read", notifications.mark_read, methods=["POST"]),
        Mount("/agency/static", StaticFiles(directory=str(STATIC_DIR)), name="agency_static"),
    ]
