"""The agency console page: the shared layout (base.html) with the agency's own template."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from agent_ui.console.pages import ROLE_TH, TEMPLATES_DIR, Pages

AGENCY_TEMPLATES = Path(__file__).resolve().parent / "templates"


def agency_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=[str(AGENCY_TEMPLATES), str(TEMPLATES_DIR)])
    templates.env.autoescape = True
    templates.env.globals["ROLE_TH"] = ROLE_TH
    return templates


class AgencyPages:
    def __init__(self) -> None:
        self.pages = Pages(agency_templates())

    async def agency(self, request: Request) -> Response:
        actor = await self.pages.guard(request, "agency")
        if isinstance(actor, Response):
            return actor
        services = request.app.state.services
        agency = services.catalog.agencies.get(actor.agency_code or "")
        return self.pages.render(
            request,
            "agency.html",
            actor=actor,
            agency_name=agency.name_th if agency else "—",
            agency_code=actor.agency_code or "",
        )
