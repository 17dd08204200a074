"""Callback requests: a caller who leaves the queue asks to be called back. A first-class queue
item: the row (attempts, outcome) in the database, the entry in the live queue at the caller's own
place in line, an audit row on the call's draft and a ``callback.requested`` event.

Any IVR node may place the callback; the live queue's offer (a Redis lease) makes sure only one
does at a time. A failed attempt waits ``retry_seconds`` before the request joins the queue
again, at its original place; after ``max_attempts`` it is ``failed`` (the console lists it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.call_queue_model import CallbackRequest
from ticketing.errors import InvalidInput, NotFound
from ticketing.events import record_event
from ticketing.live_queue import LiveQueue, QueueEntry
from ticketing.masking import mask_digits
from ticketing.models import AuditEvent, Ticket
from ticketing.ticket_base import ticket_transaction
from ticketing.timeutil import as_utc, utcnow
from ticketing.validation import clean_phone

log = logging.getLogger(__name__)

ENTRY_PREFIX = "callback:"


def entry_id(callback_id: int) -> str:
    return f"{ENTRY_PREFIX}{callback_id}"


def callback_id_of(entry: str) -> int | None:
    return int(entry[len(ENTRY_PREFIX) :]) if entry.startswith(ENTRY_PREFIX) else None


def _view(row: CallbackRequest) -> dict[str, Any]:
    return {
        "id": row.id,
        "call_id": row.call_id,
        "ticket_reference": row.ticket_reference,
        "number": row.number,  # as stored: mask per role where shown
        "requested_at": as_utc(row.requested_at),
        "queue_position_at": as_utc(row.queue_position_at),
        "state": row.state,
        "attempts": row.attempts,
        "last_outcome": row.last_outcome,
        "agent": row.agent_username,
        "updated_at": as_utc(row.updated_at),
    }


class CallbackService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        live_queue: LiveQueue,
        after_commit: Callable[[], None] = lambda: None,
        *,
        max_attempts: int = 3,
        retry_seconds: float = 300.0,
    ) -> None:
        self._sessions = sessions
        self._queue = live_queue
        self._after_commit = after_commit
        self.max_attempts = max_attempts
        self.retry = timedelta(seconds=retry_seconds)

    def _transaction(self) -> AbstractContextManager[Session]:
        return ticket_transaction(self._sessions, self._after_commit)

    def request(
        self,
        number: str,
        *,
        call_id: str | None,
        ticket_reference: str | None,
        queue_position_at: datetime | None = None,
        priority: str = "normal",
    ) -> dict[str, Any]:
        """Store the request and put it in line where the caller was (``queue_position_at``)."""
        cleaned = clean_phone(number)  # InvalidInput: the caller keys it again
        if not cleaned:
            raise InvalidInput("a callback needs a phone number", "number")
        now = utcnow()
        place = queue_position_at or now
        with self._transaction() as session:
            row = CallbackRequest(
                call_id=call_id,
                ticket_reference=ticket_reference,
                number=cleaned,
                requested_at=now,
                queue_position_at=place,
                state="pending",
                attempts=0,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            masked = mask_digits(cleaned)
            ticket_id = session.scalar(
                select(Ticket.id).where(Ticket.reference == ticket_reference)
            )
            session.add(
                AuditEvent(
                    ticket_id=ticket_id,
                    actor="system:ivr",
                    action="callback_requested",
                    before={},
                    after={"callback_id": row.id, "number": masked, "call_id": call_id},
                )
            )
            record_event(
                session,
                "callback.requested",
                {
                    "callback_id": row.id,
                    "call_id": call_id,
                    "ticket_reference": ticket_reference,
                    "caller_masked": masked,
                    "priority": priority,
                    "at": now.isoformat(),
                },
            )
            view = _view(row)
        self._enqueue(view, priority)
        log.info("callback %d requested for %s (call %s)", view["id"], masked, call_id)
        return view

    def _enqueue(self, view: dict[str, Any], priority: str = "normal") -> None:
        self._queue.join(
            QueueEntry(
                call_id=view["call_id"] or entry_id(view["id"]),
                priority=priority,
                entered_at=view["queue_position_at"],
                kind="callback",
                caller_masked=mask_digits(view["number"]),
                entry_id=entry_id(view["id"]),
                ticket_reference=view["ticket_reference"],
            )
        )

    def get(self, callback_id: int) -> dict[str, Any]:
        with self._sessions() as session:
            return _view(self._row(session, callback_id))

    def start_attempt(self, callback_id: int, agent: str) -> dict[str, Any]:
        """An agent is on the line for this callback: the number is dialled now."""
        with self._transaction() as session:
            row = self._row(session, callback_id)
            row.state = "dialling"
            row.attempts += 1
            row.agent_username = agent
            row.updated_at = utcnow()
            return _view(row)

    def finish_attempt(self, callback_id: int, outcome: str, *, reached: bool) -> dict[str, Any]:
        """The attempt's outcome (a DialOutcome value): reached -> done; otherwise pending (retried
        after the retry time) or failed after the last attempt. The entry leaves the live queue."""
        with self._transaction() as session:
            row = self._row(session, callback_id)
            row.last_outcome = outcome
            row.updated_at = utcnow()
            if reached:
                row.state = "done"
            elif row.attempts >= self.max_attempts:
                row.state = "failed"
            else:
                row.state = "pending"
            view = _view(row)
        self._queue.leave(entry_id(callback_id))
        log.info(
            "callback %d attempt %d: %s -> %s",
            callback_id,
            view["attempts"],
            outcome,
            view["state"],
        )
        return view

    def offer_released(self, callback_id: int) -> None:
        """No agent could take it after all: back to pending, it keeps its place in the queue."""
        with self._transaction() as session:
            row = self._row(session, callback_id)
            if row.state in ("offered", "dialling"):
                row.state = "pending"
                row.updated_at = utcnow()

    def requeue_due(self) -> int:
        """Put back in line the pending requests not in the live queue whose retry time has come
        (after a failed attempt, or the live queue lost them); returns how many."""
        now = utcnow()
        with self._sessions() as session:
            rows = [
                _view(r)
                for r in session.scalars(
                    select(CallbackRequest)
                    .where(CallbackRequest.state == "pending")
                    .order_by(CallbackRequest.queue_position_at)
                    .limit(500)
                )
            ]
        count = 0
        for view in rows:
            if view["attempts"] and as_utc(view["updated_at"]) > now - self.retry:
                continue
            if self._queue.get(entry_id(view["id"])) is None:
                self._enqueue(view)
                count += 1
        return count

    def requests(
        self, *, states: tuple[str, ...] = ("pending", "dialling"), limit: int = 100
    ) -> list[dict[str, Any]]:
        with self._sessions() as session:
            rows = session.scalars(
                select(CallbackRequest)
                .where(CallbackRequest.state.in_(states))
                .order_by(CallbackRequest.queue_position_at)
                .limit(limit)
            )
            return [_view(r) for r in rows]

    @staticmethod
    def _row(session: Session, callback_id: int) -> CallbackRequest:
        row = session.get(CallbackRequest, callback_id)
        if row is None:
            raise NotFound(f"no callback request {callback_id}")
        return row
