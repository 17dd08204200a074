"""Categories, agencies, provinces and districts for forms and filters."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent_ui.api import schemas
from agent_ui.api.auth import current_actor, services_of
from agent_ui.api.contract import reply


async def catalog(request: Request) -> JSONResponse:
    await current_actor(request)
    cat = services_of(request).catalog
    return reply(
        schemas.Catalog,
        {
            "categories": [
                {
                    "code": c.code,
                    "name_th": c.name_th,
                    "name_en": c.name_en,
                    "progress_days": c.progress_days,
                    "resolve_days": c.resolve_days,
                }
                for c in cat.categories.values()
            ],
            "agencies": [
                {
                    "code": a.code,
                    "name_th": a.name_th,
                    "name_en": a.name_en,
                    "province_code": a.province_code,
                }
                for a in cat.agencies.values()
            ],
            "provinces": [{"code": k, "name_th": v} for k, v in cat.provinces.items()],
            "districts": [
                {"code": k, "province_code": p, "name_th": n} for k, (p, n) in cat.districts.items()
            ],
        },
        headers={"Cache-Control": "private, max-age=300"},
    )


routes = [Route("/catalog", catalog, methods=["GET"])]
