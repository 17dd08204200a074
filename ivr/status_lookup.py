"""A caller keyed a reference number: the ticket's status, as the flow tells it."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from ivr.flow.events import StatusResult
from ivr.prompts.speech import agency_prompt
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
        ticket = tickets.get(reference)
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
    )


def _thai_date(value: Any) -> date | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return bangkok_date(moment)  # the one Bangkok-time rule (naive = UTC)
