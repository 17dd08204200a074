"""A caller keyed a reference number: the ticket's status, as the flow tells it."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from ivr.flow.events import StatusResult
from ivr.flow.result_call import RESULT_TYPE_PROMPTS
from ivr.prompts.speech import agency_prompt
from ticketing.agency_work import AGENCY_UPDATE_CHANNEL
from ticketing.errors import NotFound
from ticketing.tickets import TicketService
from ticketing.timeutil import bangkok_date

log = logging.getLogger(__name__)

# Which date of a ticket its status is told with.
_STATUS_DATE = {
    "draft": "created_at",
    "confirmed": "created_at",
    "routed": "routed_at",
    "in_progress": "routed_at",
    "resolved": "resolved_at",
    "closed": "closed_at",
    "reopened": "updated_at",
    "rejected": "updated_at",
    "duplicate": "updated_at",
}


def lookup_status(
    tickets: TicketService, prompt_ids: frozenset[str], reference: str, call_id: str
) -> StatusResult:
    """Never raises: an unknown reference and a failed look-up are outcomes the flow speaks."""
    try:
        ticket = tickets.detail(reference)
    except NotFound:
        log.info("call %s: status asked for unknown reference %s", call_id, reference)
        return StatusResult("unknown", reference)
    except Exception:
        log.exception("call %s: status look-up of %s failed", call_id, reference)
        return StatusResult("error", reference)
    status = str(ticket["status"])
    return StatusResult(
        "found",
        reference=str(ticket["reference"]),
        status=status,
        agency_prompt=agency_prompt(ticket.get("agency_code"), prompt_ids),
        since=_thai_date(ticket.get(_STATUS_DATE.get(status, "updated_at"))),
        result_prompt=_result_prompt(status, ticket.get("resolution_type")),
        progress_on=_progress_on(status, ticket.get("updates") or []),
    )


def _result_prompt(status: str, resolution_type: Any) -> str | None:
    """A resolved or closed ticket's kind of result, as its recorded prompt."""
    if status not in ("resolved", "closed") or not resolution_type:
        return None
    return RESULT_TYPE_PROMPTS.get(str(resolution_type))


def _progress_on(status: str, updates: list[dict[str, Any]]) -> date | None:
    """The day of the agency's latest progress report, while the agency still works on it."""
    if status not in ("routed", "in_progress", "reopened"):
        return None
    reports = [u for u in updates if u.get("channel") == AGENCY_UPDATE_CHANNEL]
    return _thai_date(reports[-1].get("created_at")) if reports else None


def _thai_date(value: Any) -> date | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return bangkok_date(moment)  # the one Bangkok-time rule (naive = UTC)
