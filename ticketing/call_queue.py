"""The call record of a call that meets a call-taker: queued, an agent's phone ringing, bridged,
the two-channel recording, the conversation's end. Each step is stored with its event in one
transaction (the outbox), so the wallboard and the reports come from the same facts.

Events carry ``caller_masked`` only, never the number (the console's screen pop shows the
number to the agent from the ticket, masked per role there).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.actors import Actor
from ticketing.call_queue_model import PRIORITIES, Call
from ticketing.errors import InvalidInput, NotFound
from ticketing.events import record_event
from ticketing.masking import mask_digits
from ticketing.models import AuditEvent, Recording, Ticket
from ticketing.status import OPEN_STATUSES
from ticketing.ticket_base import NewTicket, ticket_transaction
from ticketing.tickets import TicketService
from ticketing.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

IVR = Actor.system("ivr")
CHANNELS = ("caller", "agent")  # left, right of the conversation's stereo WAV


def _seconds(start: datetime | None, end: datetime) -> float | None:
    return None if start is None else round((as_utc(end) - as_utc(start)).total_seconds(), 3)


class CallQueueRecords:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        tickets: TicketService,
        after_commit: Callable[[], None] = lambda: None,
        retention_days: int = 365 * 2,
    ) -> None:
        self._sessions = sessions
        self._tickets = tickets
        self._after_commit = after_commit
        self._retention = timedelta(days=retention_days)

    def _transaction(self) -> AbstractContextManager[Session]:
        return ticket_transaction(self._sessions, self._after_commit)

    def queued(self, call_id: str, *, priority: str, reference: str | None) -> dict[str, Any]:
        """The caller joins the queue: the time (kept if they were queued before), the priority,
        and the call's draft (created now unless the IVR already made one), so the agent's screen
        pop has it. Returns ``ticket_reference``, ``earlier_references`` (the caller's open
        tickets but this one) and ``caller_masked``."""
        if priority not in PRIORITIES:
            raise InvalidInput(f"priority is one of {', '.join(PRIORITIES)}", "priority")
        with self._transaction() as session:
            call = self._call(session, call_id)
            now = utcnow()
            first = call.queue_entered_at is None
            if first:
                call.queue_entered_at = now
            call.priority = priority
            ticket = self._draft(session, call, reference)
            earlier = self._earlier(session, call.caller_number, ticket.reference)
            masked = mask_digits(call.caller_number)
            record_event(
                session,
                "call.queued",
                {
                    "call_id": call_id,
                    "priority": priority,
                    "caller_masked": masked,
                    "ticket_reference": ticket.reference,
                    "node": call.node,
                    "again": not first,
                    "at": now.isoformat(),
                },
            )
            return {
                "ticket_reference": ticket.reference,
                "ticket_id": ticket.id,
                "earlier_references": earlier,
                "caller_masked": masked,
                "entered_at": as_utc(call.queue_entered_at or now),
            }

    def _draft(self, session: Session, call: Call, reference: str | None) -> Ticket:
        if reference is not None:
            found = session.scalar(select(Ticket).where(Ticket.reference == reference))
            if found is not None:
                return found
        found = session.scalar(
            select(Ticket).where(Ticket.call_id == call.id).order_by(Ticket.id).limit(1)
        )
        if found is not None:
            return found
        return self._tickets.create_in_session(
            session,
            NewTicket(channel="phone", caller_phone=call.caller_number, call_id=call.id),
            IVR,
        )

    @staticmethod
    def _earlier(session: Session, number: str | None, reference: str) -> list[str]:
        if not number:
            return []
        rows = session.scalars(
            select(Ticket.reference)
            .where(
                Ticket.caller_phone == number,
                Ticket.status.in_(OPEN_STATUSES),
                Ticket.reference != reference,
            )
            .order_by(Ticket.id.desc())
            .limit(10)
        )
        return list(rows)

    def ringing(
        self, call_id: str, agent: str, *, ticket_reference: str | None, earlier: list[str]
    ) -> None:
        """An agent's phone rings for this call (the console pops the call for that agent)."""
        with self._transaction() as session:
            call = self._call(session, call_id)
            now = utcnow()
            call.ringing_at = call.ringing_at or now
            record_event(
                session,
                "call.ringing_agent",
                {
                    "call_id": call_id,
                    "agent": agent,
                    "caller_masked": mask_digits(call.caller_number),
                    "ticket_reference": ticket_reference,
                    "earlier_references": earlier,
                    "priority": call.priority,
                    "at": now.isoformat(),
                },
            )

    def bridged(self, call_id: str, agent: str) -> float:
        """The agent answered and the legs are bridged; returns the caller's wait (seconds)."""
        with self._transaction() as session:
            call = self._call(session, call_id)
            now = utcnow()
            call.agent_answered_at = call.agent_answered_at or now
            call.agent_username = agent
            wait = _seconds(call.queue_entered_at, now) or 0.0
            call.wait_seconds = wait
            record_event(
                session,
                "call.bridged",
                {
                    "call_id": call_id,
                    "agent": agent,
                    "caller_masked": mask_digits(call.caller_number),
                    "wait_seconds": wait,
                    "priority": call.priority,
                    "at": now.isoformat(),
                },
            )
            return wait

    def start_conversation_recording(
        self, call_id: str, path: str, *, sample_rate: int = 8000
    ) -> dict[str, Any]:
        """Two recording rows for one stereo WAV (caller left, agent right) on the call's draft;
        the draft points at the caller's channel unless it already has the IVR's recording."""
        with self._transaction() as session:
            call = self._call(session, call_id)
            now = utcnow()
            ids: dict[str, Any] = {}
            for channel in CHANNELS:
                row = Recording(
                    call_id=call_id,
                    path=path,
                    sample_rate=sample_rate,
                    created_at=now,
                    purge_after=now + self._retention,
                    channel=channel,
                )
                session.add(row)
                session.flush()
                ids[channel] = row.id
            ticket = self._draft(session, call, None)
            if ticket.recording_id is None:
                ticket.recording_id = ids["caller"]
            if ticket.asr_status in ("none", "failed"):
                ticket.asr_status = "streaming"
            ids["ticket_id"] = ticket.id
            ids["ticket_reference"] = ticket.reference
            return ids

    def conversation_ended(self, call_id: str, *, talk_seconds: float, hold_seconds: float) -> None:
        with self._transaction() as session:
            call = self._call(session, call_id)
            call.talk_seconds = round((call.talk_seconds or 0.0) + talk_seconds, 3)
            call.hold_seconds = round((call.hold_seconds or 0.0) + hold_seconds, 3)
            call.outcome = "answered"

    def wrap_up(self, call_id: str, seconds: float) -> None:
        """The configured wrap-up, until the agent leaves it and the measured one replaces it
        (``AgentPresenceService``); an agent who already left keeps the measured one."""
        with self._transaction() as session:
            call = self._call(session, call_id)
            if call.wrapup_seconds is None:
                call.wrapup_seconds = seconds

    def set_outcome(
        self, call_id: str, outcome: str, *, transfer_target: str | None = None
    ) -> None:
        with self._transaction() as session:
            call = self._call(session, call_id)
            call.outcome = outcome
            if transfer_target is not None:
                call.transfer_target = transfer_target
            if (
                outcome in ("abandoned_in_queue", "callback_requested")
                and call.wait_seconds is None
            ):
                call.wait_seconds = _seconds(call.queue_entered_at, utcnow())

    def transferred(self, call_id: str, target: str, *, by: str) -> None:
        """The officer sent the caller on: the call record, the draft's audit, the event."""
        with self._transaction() as session:
            call = self._call(session, call_id)
            now = utcnow()
            call.outcome = "transferred"
            call.transfer_target = target
            ticket = self._draft(session, call, None)
            session.add(
                AuditEvent(
                    ticket_id=ticket.id, actor=f"user:{by}" if by else "system:ivr",
                    action="call_transferred", before={}, after={"target": target},
                )
            )  # fmt: skip
            record_event(
                session,
                "call.transferred",
                {"call_id": call_id, "agent": by or call.agent_username, "target": target,
                 "ticket_reference": ticket.reference, "at": now.isoformat()},
            )  # fmt: skip

    def recent_calls(
        self,
        *,
        limit: int = 50,
        agent: str | None = None,
        scope: tuple[Collection[str], Collection[str]] | None = None,
    ) -> list[dict[str, Any]]:
        """The newest calls for ``GET /api/v1/calls`` (numbers as stored: mask them per role).
        ``scope`` = (agents, provinces): only calls those agents answered or whose draft is in
        those provinces (``ticketing.queue_scope``)."""
        query = select(Call).order_by(Call.started_at.desc()).limit(max(1, min(limit, 500)))
        if agent is not None:
            query = query.where(Call.agent_username == agent)
        if scope is not None:
            agents, provinces = scope
            in_provinces = select(Ticket.call_id).where(
                Ticket.province_code.in_(sorted(provinces)), Ticket.call_id.is_not(None)
            )
            query = query.where(
                or_(Call.agent_username.in_(sorted(agents)), Call.id.in_(in_provinces))
            )
        with self._sessions() as session:
            calls = list(session.scalars(query))
            refs = dict(
                session.execute(
                    select(Ticket.call_id, Ticket.reference).where(
                        Ticket.call_id.in_([c.id for c in calls])
                    )
                ).all()
            )
            return [
                {
                    "id": c.id,
                    "caller_number": c.caller_number,
                    "started_at": c.started_at,
                    "queue_entered_at": c.queue_entered_at,
                    "answered_at": c.agent_answered_at,
                    "agent": c.agent_username,
                    "wait_seconds": c.wait_seconds,
                    "talk_seconds": c.talk_seconds,
                    "hold_seconds": c.hold_seconds,
                    "wrapup_seconds": c.wrapup_seconds,
                    "priority": c.priority,
                    "outcome": c.outcome or ("ivr_only" if c.ended_at else None),
                    "ticket_reference": refs.get(c.id),
                    "ended_at": c.ended_at,
                }
                for c in calls
            ]

    @staticmethod
    def _call(session: Session, call_id: str) -> Call:
        call = session.get(Call, call_id)
        if call is None:
            raise NotFound(f"no call {call_id}")
        return call
