"""Closing the loop with the citizen, as rules every ticket change obeys (issue 12). Installed on
the sessionmaker (``install``), so every path that changes a ticket follows them, in its own
transaction:

- a ticket that becomes ``resolved`` owes the citizen a result call (a ``ResultCall`` row); so
  does an agency's progress report on a category in ``HOTLINE_RESULT_CALL_PROGRESS_CATEGORIES``;
  a reopened ticket's pending calls are cancelled;
- ``resolved`` -> ``closed`` only after the citizen knows: a result call that reached them
  (answered, rated, wants_officer, message_left), an officer's recorded contact since the result
  (a citizen update with its channel), or the attempts exhausted (the reason is shown);
  otherwise the change is refused (``Conflict``, with what is missing);
- a rating of 1 or 2 (post-call survey or result call) opens a follow-up for the supervisors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from config.catalog import Catalog
from config.citizen_settings import CitizenSettings
from ticketing.errors import Conflict
from ticketing.models import CitizenUpdate, SurveyResult, Ticket
from ticketing.notify import Audience, notify
from ticketing.result_call_model import ResultCall, ResultCallAttempt
from ticketing.serialize import iso
from ticketing.status import TicketStatus
from ticketing.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

LOW_RATING = 2
AGENCY_UPDATE_CHANNEL = "agency"  # as ticketing.agency_work (which imports the tickets)


@dataclass(frozen=True)
class CloseRule:
    allowed: bool
    why: str  # what allows it, or what is missing
    code: str  # officer, result_call, exhausted (allowed); pending, nobody, not_resolved

    def as_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "why": self.why, "code": self.code}


def close_rule(session: Session, ticket: Ticket) -> CloseRule:
    """May this resolved ticket be closed, and why (or why not)."""
    if ticket.status is not TicketStatus.RESOLVED:
        why = f"the ticket is {ticket.status.value}, not resolved"
        return CloseRule(False, why, "not_resolved")
    since = as_utc(ticket.resolved_at) if ticket.resolved_at else None
    with session.no_autoflush:
        contacts = [
            u
            for u in session.scalars(
                select(CitizenUpdate).where(
                    CitizenUpdate.ticket_id == ticket.id,
                    CitizenUpdate.channel != AGENCY_UPDATE_CHANNEL,
                )
            )
            if since is None or as_utc(u.created_at) >= since
        ]
        calls = [
            c
            for c in session.scalars(
                select(ResultCall)
                .where(ResultCall.ticket_id == ticket.id, ResultCall.trigger == "result")
                .order_by(ResultCall.id.desc())
            )
            if since is None or as_utc(c.created_at) >= since
        ]
    if contacts:
        return CloseRule(True, f"an officer told the citizen ({contacts[-1].channel})", "officer")
    if not calls:
        why = "nobody has told the citizen: record the officer's contact"
        return CloseRule(False, why, "nobody")
    latest = calls[0]
    if latest.state == "done":
        why = f"the result call reached the citizen ({latest.last_outcome})"
        return CloseRule(True, why, "result_call")
    if latest.state == "exhausted":
        why = f"the result call could not reach the citizen: {latest.reason}"
        return CloseRule(True, why, "exhausted")
    when = iso(as_utc(latest.next_attempt_at))
    return CloseRule(
        False,
        f"the result call is still trying (attempt {latest.attempts} of {latest.max_attempts}, "
        f"next at {when}): wait for it or record the officer's contact",
        "pending",
    )


def attempt_to_dict(row: ResultCallAttempt) -> dict[str, Any]:
    return {"at": iso(row.started_at), "outcome": row.outcome or "calling", "rating": row.rating}


def result_call_summary(session: Session, ticket_id: int) -> dict[str, Any]:
    """``result_calls`` (each attempt: at, outcome, rating) and ``rating`` (the latest 1-5 from a
    result call or the post-call survey, or None) for a ticket's API view."""
    attempts = list(
        session.scalars(
            select(ResultCallAttempt)
            .where(ResultCallAttempt.ticket_id == ticket_id)
            .order_by(ResultCallAttempt.id)
        )
    )
    latest = session.scalars(
        select(SurveyResult)
        .where(SurveyResult.ticket_id == ticket_id)
        .order_by(SurveyResult.id.desc())
        .limit(1)
    ).first()
    return {
        "result_calls": [attempt_to_dict(a) for a in attempts],
        "rating": latest.rating if latest else None,
    }


def citizen_view(session: Session, ticket: Ticket) -> dict[str, Any]:
    """What a ticket's detail carries of the loop: its result calls, rating and close rule."""
    return {
        **result_call_summary(session, ticket.id),
        "close_rule": close_rule(session, ticket).as_dict(),
    }


def _status_history(ticket: Ticket) -> tuple[Any, Any]:
    history = inspect(ticket).attrs.status.history
    before = history.deleted[0] if history.deleted else None
    after = history.added[0] if history.added else None
    return before, after


def _status_change(ticket: Ticket) -> TicketStatus | None:
    before, after = _status_history(ticket)
    return TicketStatus(after) if after is not None and after != before else None


def install(sessions: sessionmaker[Session], catalog: Catalog, settings: CitizenSettings) -> None:
    """Make every session of ``sessions`` follow the citizen-loop rules."""

    def owe_call(session: Session, ticket: Ticket, trigger: str, now: datetime) -> None:
        if not settings.enabled:
            return
        session.add(
            ResultCall(
                ticket_id=ticket.id,
                trigger=trigger,
                state="pending",
                attempts=0,
                max_attempts=settings.attempts,
                next_attempt_at=now,
                created_at=now,
            )
        )

    def before_flush(session: Session, _context: Any, _instances: Any) -> None:
        now = utcnow()
        for obj in list(session.dirty):
            if not isinstance(obj, Ticket):
                continue
            change = _status_change(obj)
            if change is TicketStatus.RESOLVED:
                owe_call(session, obj, "result", now)
            elif change is TicketStatus.CLOSED:
                rule = close_rule(session, _as_resolved(obj))
                if not rule.allowed:
                    raise Conflict(f"ticket {obj.reference} cannot be closed yet: {rule.why}")
            elif change is TicketStatus.REOPENED:
                _cancel_pending(session, obj, now)
        for obj in list(session.new):
            if isinstance(obj, CitizenUpdate) and obj.channel == AGENCY_UPDATE_CHANNEL:
                with session.no_autoflush:
                    ticket = session.get(Ticket, obj.ticket_id)
                if ticket is not None and ticket.category in settings.progress_categories:
                    owe_call(session, ticket, "progress", now)
            elif isinstance(obj, SurveyResult) and obj.rating <= LOW_RATING and obj.ticket_id:
                _low_rating(session, catalog, obj)

    event.listen(sessions, "before_flush", before_flush)


class _Resolved:
    """The ticket as it was before this change (resolved), for the close rule."""

    def __init__(self, ticket: Ticket) -> None:
        self.id = ticket.id
        self.status = TicketStatus.RESOLVED
        self.resolved_at = ticket.resolved_at


def _as_resolved(ticket: Ticket) -> Ticket:
    before, _after = _status_history(ticket)
    if before != TicketStatus.RESOLVED:
        raise Conflict(f"ticket {ticket.reference}: only a resolved ticket can be closed")
    return _Resolved(ticket)  # type: ignore[return-value]


def _cancel_pending(session: Session, ticket: Ticket, now: datetime) -> None:
    with session.no_autoflush:
        rows = session.scalars(
            select(ResultCall).where(
                ResultCall.ticket_id == ticket.id, ResultCall.state == "pending"
            )
        )
        for row in rows:
            row.state, row.finished_at, row.reason = "cancelled", now, "the ticket was reopened"


def _low_rating(session: Session, catalog: Catalog, survey: SurveyResult) -> None:
    with session.no_autoflush:
        ticket = session.get(Ticket, survey.ticket_id)
        if ticket is None:
            return
        notify(
            session,
            catalog,
            ticket.id,
            Audience(province_supervisors=ticket.province_code, central=True),
            kind="low_rating",
            title=f"เรื่อง {ticket.reference} ได้คะแนน {survey.rating}/5: โปรดติดตาม",
            body="ผู้ร้องให้คะแนนความพึงพอใจต่ำ: ตรวจสอบการดำเนินการและติดต่อกลับ",
        )
    log.info("ticket %s rated %d: a follow-up for the supervisors", ticket.reference, survey.rating)
