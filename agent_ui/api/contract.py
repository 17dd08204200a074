"""Where handlers meet their schemas: bodies are parsed with the route's request model, replies
are checked against its response model, and every operation is declared once in OPERATIONS (the
OpenAPI document is generated from that list, and a test holds it to the routes)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from agent_ui.api import schemas
from agent_ui.api.errors import BadRequest
from ticketing.errors import InvalidInput

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # under /api/v1
    summary: str
    response: type[BaseModel]
    status: int = 200
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = (401, 403)
    query: tuple[tuple[str, dict[str, Any]], ...] = ()


def _message(error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()))
    if error.get("type") == "extra_forbidden":
        return f"unknown fields: {where}"
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))


async def parse_body(request: Request, model: type[M]) -> M:
    """The JSON body as ``model``: 400 when it is not a JSON object, 422 when a field is wrong."""
    content_type = request.headers.get("content-type", "")
    if content_type and "json" not in content_type:
        raise BadRequest("send a JSON body with Content-Type: application/json")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"body larger than {MAX_BODY_BYTES} bytes", "too_large")
    try:
        # pydantic's own parser: no RecursionError on deep nesting, lone surrogates refused.
        return model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] in ("json_invalid", "model_type", "model_attributes_type"):
            raise BadRequest(f"body is not a JSON object: {first['msg']}", "invalid_json") from exc
        field = str(first["loc"][0]) if first["loc"] else None
        raise InvalidInput(_message(first), field) from exc


def reply(
    model: type[BaseModel],
    data: Any,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """``data`` as JSON after checking it is what the schema promises (a mismatch is a bug: it
    is logged and answered 500, never sent out of contract)."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        log.error(
            "reply does not match its schema %s (update agent_ui/api/schemas.py): %s",
            model.__name__,
            exc.errors(include_url=False, include_input=False)[:3],
        )
        raise
    return JSONResponse(data, status_code=status, headers=dict(headers or {}))


REFERENCE_PARAM = {
    "name": "reference",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "Ticket reference (digits, Damm check digit)",
}
CALL_ID_PARAM = {
    "name": "call_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "Our call id (GET /calls lists them)",
}
_LIST_QUERY: tuple[tuple[str, dict[str, Any]], ...] = (
    ("status", {"type": "string", "description": "comma-separated statuses"}),
    ("category", {"type": "string"}),
    ("province", {"type": "string"}),
    ("agency", {"type": "string"}),
    ("urgent", {"type": "boolean"}),
    ("overdue", {"type": "boolean"}),
    ("sla", {"type": "string", "enum": ["breached", "warning"]}),
    ("created_from", {"type": "string", "format": "date-time"}),
    ("created_to", {"type": "string", "format": "date-time"}),
    ("phone", {"type": "string", "description": "call-takers only (403 for masked roles)"}),
    ("citizen_id", {"type": "string", "description": "call-takers only (403 for masked roles)"}),
    ("q", {"type": "string", "description": "words of the description, or a reference"}),
    ("cursor", {"type": "integer", "minimum": 0}),
    ("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
)

T = "/tickets/{reference}"
OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/tickets",
        "Create a ticket (status draft)",
        schemas.Ticket,
        201,
        schemas.NewTicket,
        (400, 401, 403, 422),
    ),
    Operation(
        "GET",
        "/tickets",
        "List tickets, newest first, with cursor pagination",
        schemas.TicketPage,
        errors=(400, 401, 403),
        query=_LIST_QUERY,
    ),
    Operation(
        "GET",
        T,
        "A ticket with audit trail, routing history and updates",
        schemas.TicketDetail,
        errors=(401, 403, 404),
    ),
    Operation(
        "PATCH",
        T,
        "Edit fields of an open ticket (optimistic lock with version)",
        schemas.Ticket,
        body=schemas.TicketEdit,
        errors=(400, 401, 403, 404, 409, 422),
    ),
    Operation(
        "POST",
        T + "/transitions",
        "Change status; illegal transitions give 409",
        schemas.Ticket,
        body=schemas.Transition,
        errors=(400, 401, 403, 404, 409, 422),
    ),
    Operation(
        "POST",
        T + "/routing",
        "Route to an agency (omit agency_code to take the suggestion)",
        schemas.Ticket,
        body=schemas.Routing,
        errors=(400, 401, 403, 404, 409, 422),
    ),
    Operation(
        "POST",
        T + "/updates",
        "Record a progress or result message reported to the citizen",
        schemas.CitizenUpdate,
        201,
        schemas.NewCitizenUpdate,
        (400, 401, 403, 404, 409, 422),
    ),
    Operation(
        "GET",
        T + "/audit",
        "Audit trail: who, what, when, before and after (masked by role)",
        schemas.AuditPage,
        errors=(401, 403, 404),
    ),
    Operation(
        "POST",
        T + "/reveal",
        "Admins: the ticket unmasked, for a stated reason (written to the audit trail)",
        schemas.TicketDetail,
        body=schemas.Reveal,
        errors=(400, 401, 403, 404, 422),
    ),
    Operation(
        "GET",
        T + "/suggested-agency",
        "The agency the routing rules suggest",
        schemas.SuggestedAgency,
        errors=(401, 403, 404),
    ),
    Operation("GET", "/catalog", "Categories, agencies, provinces, districts", schemas.Catalog),
    Operation(
        "GET", "/metrics/summary", "Supervisor figures (supervisor, admin)", schemas.MetricsSummary
    ),
    Operation(
        "PUT",
        "/agents/me/state",
        "Call-takers: set your presence (available, break with a reason, offline)",
        schemas.AgentPresence,
        body=schemas.AgentStateRequest,
        errors=(400, 401, 403, 409, 422, 503),
    ),
    Operation(
        "GET",
        "/agents",
        "Supervisors, admins: every call-taker's state, since when, and current call",
        schemas.AgentList,
        errors=(401, 403, 503),
    ),
    Operation(
        "GET",
        "/agents/me",
        "Call-takers: your own presence (state, since, reason, call, wrap-up end)",
        schemas.AgentPresence,
        errors=(401, 403, 503),
    ),
    Operation(
        "GET",
        "/calls",
        "Calls, newest first (supervisors, admins: all; call-takers: the calls they took)",
        schemas.CallList,
        errors=(400, 401, 403),
        query=(("limit", {"type": "integer", "minimum": 1, "maximum": 200}),),
    ),
    Operation(
        "GET",
        "/callbacks",
        "Callback requests to do (in the callers' order in line) and today's finished ones",
        schemas.CallbackList,
        errors=(400, 401, 403),
        query=(("limit", {"type": "integer", "minimum": 1, "maximum": 200}),),
    ),
    Operation(
        "POST",
        "/calls/{call_id}/transfer",
        "The officer on the call (or a supervisor): transfer to the queue or a hub (blind)",
        schemas.CallCommandSent,
        202,
        schemas.TransferRequest,
        (400, 401, 403, 404, 409, 422, 503),
    ),
    Operation(
        "POST",
        "/calls/{call_id}/leg",
        "The officer on the call (or a supervisor): hold / resume the caller, mute / unmute",
        schemas.CallCommandSent,
        202,
        schemas.LegRequest,
        (400, 401, 403, 404, 409, 422, 503),
    ),
    Operation(
        "POST",
        "/calls/{call_id}/listen",
        "Supervisors, admins: listen in to a live conversation on their own SIP phone (logged)",
        schemas.CallCommandSent,
        202,
        None,
        (401, 403, 404, 409, 503),
    ),
)
