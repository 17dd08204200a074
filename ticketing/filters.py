"""Filters for ticket lists, shared by the API, the console and the service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TicketFilter:
    status: tuple[str, ...] = ()
    category: str | None = None
    province_code: str | None = None
    agency_code: str | None = None
    urgent: bool | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    overdue: bool | None = None
    caller_phone: str | None = None
    citizen_id: str | None = None
    text: str | None = None
    sla: str | None = None  # breached | warning: the scheduler's state of the open clocks
