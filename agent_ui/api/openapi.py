"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ticketing.status import TicketStatus

_ERROR = {"$ref": "#/components/responses/Error"}
_REF = {
    "name": "reference",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]{9,}$"},
    "description": "Ticket reference (digits, Damm check digit)",
}


def _ok(schema: dict[str, Any], status: str = "200", description: str = "OK") -> dict[str, Any]:
    return {
        status: {"description": description, "content": {"application/json": {"schema": schema}}}
    }


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _ERROR for code in codes}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


TICKET = {"$ref": "#/components/schemas/Ticket"}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "hotline1567 API",
        "version": "1",
        "description": "Tickets of the Damrongdhama hotline 1567. Errors are "
        '`{"error": {"code", "message"}}`. Authenticate with `Authorization: Bearer <token>` '
        "(`hotline1567 token create --user NAME`).",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "paths": {
        "/tickets": {
            "post": {
                "summary": "Create a ticket (status draft)",
                "requestBody": _body({"$ref": "#/components/schemas/NewTicket"}),
                "responses": {
                    **_ok(TICKET, "201", "Created"),
                    **_errors("400", "401", "403", "422"),
                },
            },
            "get": {
                "summary": "List tickets, newest first, with cursor pagination",
                "parameters": [
                    {"name": n, "in": "query", "schema": s}
                    for n, s in [
                        ("status", {"type": "string", "description": "comma-separated"}),
                        ("category", {"type": "string"}),
                        ("province", {"type": "string"}),
                        ("agency", {"type": "string"}),
                        ("urgent", {"type": "boolean"}),
                        ("overdue", {"type": "boolean"}),
                        ("sla", {"type": "string", "enum": ["breached", "warning"]}),
                        ("created_from", {"type": "string", "format": "date-time"}),
                        ("created_to", {"type": "string", "format": "date-time"}),
                        ("phone", {"type": "string"}),
                        ("citizen_id", {"type": "string"}),
                        ("q", {"type": "string", "description": "words of the description"}),
                        ("cursor", {"type": "integer"}),
                        ("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
                    ]
                ],
                "responses": {
                    **_ok(
                        {
                            "type": "object",
                            "properties": {
                                "items": {"type": "array", "items": TICKET},
                                "next_cursor": {"type": ["integer", "null"]},
                            },
                        }
                    ),
                    **_errors("400", "401", "403"),
                },
            },
        },
        "/tickets/{reference}": {
            "parameters": [_REF],
            "get": {
                "summary": "A ticket with audit trail, routing history and updates",
                "responses": {**_ok(TICKET), **_errors("401", "403", "404")},
            },
            "patch": {
                "summary": "Edit fields of an open ticket (optimistic lock with version)",
                "requestBody": _body({"$ref": "#/components/schemas/TicketEdit"}),
                "responses": {**_ok(TICKET), **_errors("400", "401", "403", "404", "409", "422")},
            },
        },
        "/tickets/{reference}/transitions": {
            "parameters": [_REF],
            "post": {
                "summary": "Change status; illegal transitions give 409",
                "requestBody": _body({"$ref": "#/components/schemas/Transition"}),
                "responses": {**_ok(TICKET), **_errors("400", "401", "403", "404", "409", "422")},
            },
        },
        "/tickets/{reference}/routing": {
            "parameters": [_REF],
            "post": {
                "summary": "Route to an agency (omit agency_code to take the suggestion)",
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {
                            "agency_code": {"type": "string"},
                            "note": {"type": "string"},
                            "version": {"type": "integer"},
                        },
                    }
                ),
                "responses": {**_ok(TICKET), **_errors("400", "401", "403", "404", "409", "422")},
            },
        },
        "/tickets/{reference}/updates": {
            "parameters": [_REF],
            "post": {
                "summary": "Record a progress or result message reported to the citizen",
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["message"],
                        "properties": {
                            "message": {"type": "string"},
                            "channel": {
                                "type": "string",
                                "enum": ["phone", "sms", "letter", "email", "line", "in_person"],
                            },
                        },
                    }
                ),
                "responses": {
                    **_ok({"type": "object"}, "201", "Created"),
                    **_errors("400", "401", "403", "404", "422"),
                },
            },
        },
        "/tickets/{reference}/audit": {
            "parameters": [_REF],
            "get": {
                "summary": "Audit trail: who, what, when, before and after",
                "responses": {**_ok({"type": "object"}), **_errors("401", "403", "404")},
            },
        },
        "/tickets/{reference}/suggested-agency": {
            "parameters": [_REF],
            "get": {
                "summary": "The agency the routing rules suggest",
                "responses": {**_ok({"type": "object"}), **_errors("401", "403", "404")},
            },
        },
        "/catalog": {
            "get": {
                "summary": "Categories, agencies, provinces, districts",
                "responses": {**_ok({"type": "object"}), **_errors("401")},
            }
        },
        "/metrics/summary": {
            "get": {
                "summary": "Supervisor figures (supervisor, admin)",
                "responses": {**_ok({"type": "object"}), **_errors("401", "403")},
            }
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "responses": {
            "Error": {
                "description": "An error",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["error"],
                            "properties": {
                                "error": {
                                    "type": "object",
                                    "required": ["code", "message"],
                                    "properties": {
                                        "code": {"type": "string"},
                                        "message": {"type": "string"},
                                        "field": {"type": "string"},
                                    },
                                }
                            },
                        }
                    }
                },
            }
        },
        "schemas": {
            "NewTicket": {
                "type": "object",
                "required": ["description"],
                "additionalProperties": False,
                "properties": {
                    "description": {"type": "string", "minLength": 1},
                    "category": {"type": "string"},
                    "province_code": {"type": "string", "pattern": "^[0-9]{2}$"},
                    "district_code": {"type": "string", "pattern": "^[0-9]{4}$"},
                    "caller_phone": {"type": "string"},
                    "citizen_id": {"type": "string", "pattern": "^[0-9]{13}$"},
                    "urgent": {"type": "boolean"},
                    "channel": {
                        "type": "string",
                        "enum": ["phone", "web", "api", "walk_in", "letter", "line"],
                    },
                },
            },
            "TicketEdit": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "version": {"type": "integer"},
                    "description": {"type": "string"},
                    "category": {"type": ["string", "null"]},
                    "province_code": {"type": ["string", "null"]},
                    "district_code": {"type": ["string", "null"]},
                    "caller_phone": {"type": ["string", "null"]},
                    "citizen_id": {"type": ["string", "null"]},
                    "urgent": {"type": "boolean"},
                },
            },
            "Transition": {
                "type": "object",
                "required": ["to"],
                "properties": {
                    "to": {"type": "string", "enum": [s.value for s in TicketStatus]},
                    "reason": {"type": "string", "description": "required for rejected"},
                    "duplicate_of": {"type": "string", "description": "required for duplicate"},
                    "resolution": {"type": "string"},
                    "agency_code": {"type": "string", "description": "with to=routed"},
                    "version": {"type": "integer"},
                },
            },
            "Ticket": {
                "type": "object",
                "properties": {
                    "reference": {"type": "string"},
                    "status": {"type": "string", "enum": [s.value for s in TicketStatus]},
                    "version": {"type": "integer"},
                    "category": {"type": ["string", "null"]},
                    "urgent": {"type": "boolean"},
                    "province_code": {"type": ["string", "null"]},
                    "district_code": {"type": ["string", "null"]},
                    "caller_phone": {"type": ["string", "null"]},
                    "citizen_id": {"type": ["string", "null"]},
                    "description": {"type": "string"},
                    "transcript": {"type": ["string", "null"]},
                    "field_confidence": {"type": "object"},
                    "asr_status": {"type": "string"},
                    "agency_code": {"type": ["string", "null"]},
                    "created_at": {"type": "string", "format": "date-time"},
                    "resolve_due_at": {"type": ["string", "null"], "format": "date-time"},
                    "overdue": {"type": "boolean"},
                    "escalation_level": {"type": "integer", "minimum": 0, "maximum": 3},
                    "sla": {
                        "type": "object",
                        "description": "per clock (confirm, progress, resolve): due, state "
                        "ok|warning|breached|met, level; null when the clock does not apply",
                    },
                },
            },
        },
    },
}


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(DOCUMENT)


routes = [Route("/openapi.json", openapi, methods=["GET"])]
