"""Call records: start, answer, the path through the menu, recordings, surveys and the end.

The IVR reports through this service only; each step is stored and published as an event so the
supervisor's calls-in-IVR, abandoned-in-menu and time-to-complete come from the same facts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.actors import Actor
from ticketing.errors import InvalidInput, NotFound
from ticketing.events import record_event
from ticketing.models import Call, Recording, RecordingAccess, SurveyResult, Ticket
from ticketing.serialize import mask_digits, ticket_to_dict
from ticketing.ticket_base import ticket_transaction
from ticketing.tickets import NewTicket, TicketService
from ticketing.timeutil import as_utc, utcnow
from ticketing.validation import clean_phone

log = logging.getLogger(__name__)

IVR = Actor.system("ivr")
RECORDING_RETENTION_DAYS = 365 * 2


class CallService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        tickets: TicketService,
        after_commit: Callable[[], None] = lambda: None,
        retention_days: int = RECORDING_RETENTION_DAYS,
    ) -> None:
        self._sessions = sessions
        self._tickets = tickets
        self._after_commit = after_commit
        self._retention = timedelta(days=retention_days)

    def _transaction(self) -> AbstractContextManager[Session]:
        """The tickets' one transaction (a draft is created in it; StaleVersion on a lost
        optimistic-lock race; the outbox relay kicked after commit)."""
        return ticket_transaction(self._sessions, self._after_commit)

    def start_call(
        self,
        call_id: str,
        *,
        sip_call_id: str = "",
        caller_number: str | None = None,
        node: str = "",
    ) -> None:
        try:
            caller = clean_phone(caller_number)
        except InvalidInput:
            caller = None  # an anonymous or odd From never stops a call being answered
        with self._transaction() as session:
            session.add(
                Call(
                    id=call_id,
                    sip_call_id=sip_call_id,
                    caller_number=caller,
                    node=node,
                    started_at=utcnow(),
                    path=[],
                )
            )
            record_event(
                session, "call.started", {"call_id": call_id, "caller": caller, "node": node}
            )
        log.info("call %s started from %s on %s", call_id, mask_digits(caller), node)

    def answered(self, call_id: str) -> None:
        with self._transaction() as session:
            call = self._call(session, call_id)
            call.answered_at = utcnow()
            record_event(session, "call.answered", {"call_id": call_id, "node": call.node})

    def menu_step(self, call_id: str, step: str, digits: str | None = None) -> None:
        self.menu_steps(call_id, [(step, digits, utcnow())])

    def menu_steps(self, call_id: str, steps: list[tuple[str, str | None, datetime]]) -> None:
        """Append steps (name, keys, when) to the call's path in one transaction: the IVR writes
        a call's steps together, a second apart at most, not one transaction each."""
        if not steps:
            return
        with self._transaction() as session:
            call = self._call(session, call_id)
            entries = []
            for step, digits, at in steps:
                entry = {"step": step, "at": at.isoformat()}
                if digits is not None:
                    entry["digits"] = digits
                entries.append(entry)
                record_event(
                    session, "call.menu", {"call_id": call_id, "step": step, "digits": digits}
                )
            call.path = [*call.path, *entries]  # a new list: JSON columns track assignment only
            call.last_step = steps[-1][0]

    def start_recording(
        self, call_id: str, path: str, *, sample_rate: int = 8000, asr_status: str = "pending"
    ) -> tuple[int, dict[str, Any]]:
        """Create the recording row and its draft ticket at once; returns (recording id, ticket)."""
        with self._transaction() as session:
            call = self._call(session, call_id)
            now = utcnow()
            recording = Recording(
                call_id=call_id,
                path=path,
                sample_rate=sample_rate,
                created_at=now,
                purge_after=now + self._retention,
            )
            session.add(recording)
            session.flush()
            queued = session.scalar(  # the draft made when the caller joined the queue
                select(Ticket).where(Ticket.call_id == call_id, Ticket.recording_id.is_(None))
            )
            if queued is not None:
                queued.recording_id, queued.asr_status = recording.id, asr_status
                return recording.id, ticket_to_dict(queued)
            ticket = self._tickets.create_in_session(
                session,
                NewTicket(
                    channel="phone",
                    caller_phone=call.caller_number,
                    call_id=call_id,
                    recording_id=recording.id,
                    asr_status=asr_status,
                ),
                IVR,
            )
            log.info("call %s recording %d draft %s", call_id, recording.id, ticket.reference)
            return recording.id, ticket_to_dict(ticket)

    def finish_recording(
        self, recording_id: int, *, duration_seconds: float, partial: bool
    ) -> None:
        with self._transaction() as session:
            recording = session.get(Recording, recording_id)
            if recording is None:
                raise NotFound(f"no recording {recording_id}")
            recording.duration_seconds = duration_seconds
            recording.partial = partial
            recording.complete = True
            ticket = session.query(Ticket).filter(Ticket.recording_id == recording_id).first()
            if ticket is not None:
                record_event(
                    session,
                    "ticket.updated",
                    {
                        "reference": ticket.reference,
                        "ticket_id": ticket.id,
                        "status": ticket.status.value,
                        "recording_partial": partial,
                        "recording_seconds": duration_seconds,
                    },
                )

    def recording_failed(self, recording_id: int, reason: str, *, note: str = "") -> None:
        """The IVR could not store this recording: the reason is kept on the row (the dashboard
        counts them) and the draft says so (``note`` as its description, which a later
        transcript does not replace), so nobody waits for audio that does not exist."""
        with self._transaction() as session:
            recording = session.get(Recording, recording_id)
            if recording is None:
                raise NotFound(f"no recording {recording_id}")
            recording.write_error = reason[:500]
            recording.complete = True
            recording.partial = True
            found = session.execute(
                select(Ticket.id, Ticket.reference).where(Ticket.recording_id == recording_id)
            ).first()
        log.error("recording %d failed: %s", recording_id, reason)
        if found is not None:
            ticket_id, reference = found
            if note:
                self._tickets.update_fields(reference, {"description": note}, IVR)
            self._tickets.apply_transcript(
                ticket_id,
                transcript=None,
                words=None,
                extracted={},
                confidence={},
                asr_status="failed",
                asr_error=f"recording failed: {reason}",
                actor=IVR,
            )

    def record_survey(self, call_id: str, rating: int) -> None:
        if not 1 <= rating <= 5:
            raise InvalidInput("a rating is 1 to 5", "rating")
        with self._transaction() as session:
            call = self._call(session, call_id)
            call.survey_rating = rating
            ticket = session.query(Ticket).filter(Ticket.call_id == call_id).first()
            session.add(
                SurveyResult(
                    call_id=call_id, ticket_id=ticket.id if ticket else None, rating=rating
                )
            )

    def end_call(
        self, call_id: str, reason: str, *, abandoned: bool, outcome: str | None = None
    ) -> None:
        """The caller's leg ended; ``outcome`` overrides the one the call would get (the
        reconciler's ``error`` for a call whose node stopped)."""
        with self._transaction() as session:
            call = self._call(session, call_id)
            if call.ended_at is not None:
                return  # BYE and a timeout can both report the end
            call.ended_at = utcnow()
            call.end_reason = reason
            call.abandoned = abandoned
            seconds = (as_utc(call.ended_at) - as_utc(call.started_at)).total_seconds()
            if call.outcome is None:
                queued = call.queue_entered_at is not None
                call.outcome = "abandoned_in_queue" if queued and abandoned else "ivr_only"
                if reason == "error":
                    call.outcome = "error"
            if outcome is not None:
                call.outcome = outcome
            if call.outcome == "abandoned_in_queue" and call.wait_seconds is None:
                wait = as_utc(call.ended_at) - as_utc(call.queue_entered_at or call.ended_at)
                call.wait_seconds = round(wait.total_seconds(), 3)
            record_event(
                session,
                "call.ended",
                {
                    "call_id": call_id,
                    "reason": reason,
                    "abandoned": abandoned,
                    "last_step": call.last_step,
                    "seconds": round(seconds, 1),
                    "node": call.node,
                    "outcome": call.outcome,
                    "agent": call.agent_username,
                    "wait_seconds": call.wait_seconds,
                    "talk_seconds": call.talk_seconds,
                    "priority": call.priority,
                    "at": call.ended_at.isoformat(),
                },
            )
        log.info("call %s ended (%s, abandoned=%s)", call_id, reason, abandoned)

    def open_calls_of_node(self, node: str) -> list[dict[str, Any]]:
        """Calls a node left open (it was killed mid-call), each with its unfinished recordings;
        the node asks at start-up, when it cannot be holding any call."""
        with self._sessions() as session:
            left = Call.ended_at.is_(None) | (Call.end_reason == "node_stopped")
            calls = list(session.scalars(select(Call).where(Call.node == node, left)))
            result = []
            for call in calls:
                recordings = list(
                    session.scalars(
                        select(Recording).where(
                            Recording.call_id == call.id, Recording.complete.is_(False)
                        )
                    )
                )
                if call.ended_at is not None and not recordings:
                    continue  # closed by the reconciler (node stopped), its recordings done
                result.append(
                    {
                        "call_id": call.id,
                        "recordings": [{"id": r.id, "path": r.path} for r in recordings],
                    }
                )
            return result

    def close_orphaned_call(self, call_id: str, recording_seconds: dict[int, float]) -> None:
        """End a call whose node died: the call row closed (reason ``node_crash``, not counted
        as abandoned), its recordings finalised as partial with the length found on disk."""
        for recording_id, seconds in recording_seconds.items():
            self.finish_recording(recording_id, duration_seconds=round(seconds, 3), partial=True)
        self.end_call(call_id, "node_crash", abandoned=False)
        log.warning(
            "call %s: closed after its IVR node died (%d recording(s) kept)",
            call_id,
            len(recording_seconds),
        )

    def log_recording_access(
        self, recording_id: int, user_id: int | None, purpose: str = "listen"
    ) -> None:
        """PDPA: every listen to a recording is logged (who, which, when, why)."""
        with self._sessions.begin() as session:
            if session.get(Recording, recording_id) is None:
                raise NotFound(f"no recording {recording_id}")
            session.add(
                RecordingAccess(
                    recording_id=recording_id, user_id=user_id, at=utcnow(), purpose=purpose
                )
            )

    def purge_expired_recordings(self, data_dir: Path, *, limit: int = 1000) -> int:
        """Delete audio past its retention date (PDPA); the row stays, marked purged."""
        now = utcnow()
        with self._sessions.begin() as session:
            expired = list(
                session.scalars(
                    select(Recording)
                    .where(Recording.purge_after < now, Recording.purged_at.is_(None))
                    .limit(limit)
                )
            )
            for recording in expired:
                (data_dir / recording.path).unlink(missing_ok=True)
                recording.purged_at = now
                log.info(
                    "recording %d purged (retention ended %s)", recording.id, recording.purge_after
                )
            return len(expired)

    def recordings_awaiting_asr(
        self, *, finished_before: timedelta, abandoned_after: timedelta, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Recordings whose draft still waits for a transcript, for the ASR sweeper.

        A recording qualifies once it was finished ``finished_before`` ago (or, if its IVR node
        died and never finished it, once it is ``abandoned_after`` old), its audio is kept and
        its draft's ASR is still "pending" or "streaming". Whether a job is already queued for
        it is the audio queue's to say; the oldest come first.
        """
        now = utcnow()
        with self._sessions() as session:
            rows = session.execute(
                select(
                    Recording.id,
                    Recording.path,
                    Recording.sample_rate,
                    Recording.call_id,
                    Ticket.id,
                )
                .join(Ticket, Ticket.recording_id == Recording.id)
                .where(
                    Ticket.asr_status.in_(("pending", "streaming")),
                    Recording.purged_at.is_(None),
                    Ticket.updated_at < now - finished_before,
                    (Recording.complete.is_(True) & (Recording.created_at < now - finished_before))
                    | (Recording.created_at < now - abandoned_after),
                )
                .order_by(Recording.id)
                .limit(limit)
            ).all()
        return [
            {"recording_id": rid, "path": path, "sample_rate": rate, "call_id": call_id,
             "ticket_id": ticket_id}
            for rid, path, rate, call_id, ticket_id in rows
        ]  # fmt: skip

    def get_call(self, call_id: str) -> dict[str, Any]:
        with self._sessions() as session:
            call = self._call(session, call_id)
            return {
                "id": call.id,
                "caller_number": call.caller_number,
                "node": call.node,
                "started_at": call.started_at,
                "answered_at": call.answered_at,
                "ended_at": call.ended_at,
                "end_reason": call.end_reason,
                "abandoned": call.abandoned,
                "last_step": call.last_step,
                "path": call.path,
                "survey_rating": call.survey_rating,
            }

    @staticmethod
    def _call(session: Session, call_id: str) -> Call:
        call = session.get(Call, call_id)
        if call is None:
            raise NotFound(f"no call {call_id}")
        return call
