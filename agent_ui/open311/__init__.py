"""Open311 GeoReport v2 under ``/open311/v2/`` (JSON and XML, the specification's errors)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route

from agent_ui.open311 import handlers


def open311_routes() -> list[BaseRoute]:
    return [
        Mount(
            "/open311/v2",
            routes=[
                Route("/services.{fmt}", handlers.services, methods=["GET"]),
                Route("/services/{code}.{fmt}", handlers.service_definition, methods=["GET"]),
                Route("/requests.{fmt}", handlers.create_request, methods=["POST"]),
                Route("/requests.{fmt}", handlers.list_requests, methods=["GET"]),
                Route("/requests/{request_id}.{fmt}", handlers.get_request, methods=["GET"]),
            ],
        )
    ]
