"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json, generated from the
declared operations and their pydantic models (``agent_ui.api.contract``)."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent_ui.api import schemas
from agent_ui.api.contract import CALL_ID_PARAM, OPERATIONS, REFERENCE_PARAM, Operation

REF = "#/components/schemas/{model}"
ERROR_TEXT = {
    400: "Malformed request (not JSON, not an object, bad query)",
    401: "Not signed in, or a bad token",
    403: "Not allowed for this role or province",
    404: "No such ticket",
    409: "Conflict: illegal transition, stale version or a claim",
    422: "A field is invalid (error.field names it)",
    503: "A backing service (the live presence store) is unavailable; try again",
}


def _content(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}


def _operation(op: Operation) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method.lower()}_{op.path.strip('/').replace('/', '_')}".replace(
            "{", ""
        ).replace("}", ""),
        "responses": {
            str(op.status): {"description": "OK", "content": _content(op.response)},
            **{
                str(code): {"$ref": f"#/components/responses/Error{code}"}
                for code in sorted(op.errors)
            },
        },
    }
    parameters: list[dict[str, Any]] = [
        {"name": n, "in": "query", "schema": s} for n, s in op.query
    ]
    if "{reference}" in op.path:
        parameters.insert(0, REFERENCE_PARAM)
    if "{call_id}" in op.path:
        parameters.insert(0, CALL_ID_PARAM)
    if parameters:
        doc["parameters"] = parameters
    if op.body is not None:
        doc["requestBody"] = {"required": True, "content": _content(op.body)}
    return doc


@cache
def document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [schemas.Error]
    for op in OPERATIONS:
        models += [m for m in (op.body, op.response) if m is not None and m not in models]
    _, top = models_json_schema(
        [(m, "validation" if issubclass(m, schemas.Body) else "serialization") for m in models],
        ref_template=REF,
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    codes = sorted({c for op in OPERATIONS for c in op.errors})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hotline1567 API",
            "version": "1",
            "description": "Tickets of the Damrongdhama hotline 1567. Errors are "
            '`{"error": {"code", "message", "field"?}}`. Authenticate with '
            "`Authorization: Bearer <token>` (`hotline1567 token create --user NAME`). "
            "Phone numbers and citizen IDs are masked for supervisors and admins.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                f"Error{code}": {
                    "description": ERROR_TEXT[code],
                    "content": _content(schemas.Error),
                }
                for code in codes
            },
            "schemas": top["$defs"],
        },
    }


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(document())


routes = [Route("/openapi.json", openapi, methods=["GET"])]
