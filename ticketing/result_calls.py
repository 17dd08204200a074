"""The result call (issue 12): the outbox of calls owed to citizens and each attempt's outcome.

A ``ResultCall`` row is written in the transaction that resolves a ticket (``citizen_loop``). IVR
nodes claim due attempts with a lease (a conditional UPDATE, so two nodes never ring the same
citizen for the same ticket); the attempt row is written at the claim. A node that dies
mid-attempt leaves its lease to expire: the next claim records that attempt once as ``failed``
("interrupted") and schedules the next one. Every outcome goes on the ticket's audit trail and
timeline and out as ``citizen.call_attempt`` (the number masked).

Outcomes: ``answered`` (heard the result, no rating), ``rated`` (1-5), ``wants_officer`` (pressed
0: a follow-up for a supervisor), ``message_left`` (answering machine or silence) end the call;
``no_answer``, ``busy`` and ``failed`` (503, trunk trouble) are retried
``HOTLINE_RESULT_CALL_SPACING`` later inside the call hours until the attempts are used up
(``exhausted``, the reason kept). A number that cannot be dialled (missing, an extension, not
Thai) is ``failed`` at once, no dial.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session, sessionmaker

from config.catalog import Catalog
from config.citizen_settings import CitizenSettings
from ticketing.call_window import callback_problem, dial_digits, next_allowed
from ticketing.events import record_event
from ticketing.masking import mask_digits
from ticketing.models import AuditEvent, CallbackRequest, CitizenUpdate, SurveyResult, Ticket
from ticketing.notify import Audience, notify
from ticketing.result_call_model import ResultCall, ResultCallAttempt
from ticketing.serialize import iso
from ticketing.ticket_base import ticket_transaction
from ticketing.timeutil import as_utc, utcnow
from ticketing.validation import clean_phone

log = logging.getLogger(__name__)

ACTOR = "result-call"
OUTCOMES = ("answered", "no_answer", "busy", "failed", "message_left", "rated", "wants_officer")
REACHED = frozenset({"answered", "rated", "wants_officer", "message_left"})
INTERRUPTED = "interrupted: the node stopped mid-attempt"


@dataclass(frozen=True)
class ClaimedAttempt:
    """What a node needs to place one attempt (``number`` is the full callback number: dial it,
    never log it)."""

    result_call_id: int
    attempt_id: int
    attempt: int
    node: str
    trigger: str
    ticket_reference: str
    number: str
    status: str
    agency_code: str | None
    resolution_type: str | None
    category: str | None
    progress: str | None  # the latest progress report, for a progress call

    @property
    def caller_masked(self) -> str:
        return mask_digits(self.number) or ""


def _move(
    session: Session,
    result_call_id: int,
    state: str,
    attempts_now: int,
    to: str,
    *conditions: ColumnElement[bool],
    **values: Any,
) -> bool:
    """The claim / finish step: one conditional UPDATE moving the row from ``state`` (at
    ``attempts_now``, and ``conditions`` such as the lease owner) to ``to`` with ``values``; True
    when this caller won it (another node that raced it changed nothing)."""
    won = session.execute(
        update(ResultCall)
        .where(
            ResultCall.id == result_call_id,
            ResultCall.state == state,
            ResultCall.attempts == attempts_now,
            *conditions,
        )
        .values(state=to, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(won, "rowcount", 0) == 1)


class ResultCalls:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        catalog: Catalog,
        settings: CitizenSettings,
        holidays: Collection[date] = frozenset(),
        after_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self.settings = settings
        self._holidays = frozenset(holidays)
        self._after_commit = after_commit

    def _transaction(self) -> AbstractContextManager[Session]:
        return ticket_transaction(self._sessions, self._after_commit)

    def next_time(self, moment: datetime) -> datetime:
        return next_allowed(moment, self.settings, self._holidays)

    # --- claiming ---------------------------------------------------------------------------
    def claim_due(
        self, node: str, *, limit: int = 1, now: datetime | None = None
    ) -> list[ClaimedAttempt]:
        """Up to ``limit`` attempts due now, leased to ``node``. Undiallable numbers are settled
        here (``failed``, no dial) and not returned."""
        moment = now or utcnow()
        claimed: list[ClaimedAttempt] = []
        with self._transaction() as session:
            self._recover_expired(session, moment)
            query = (
                select(ResultCall)
                .where(ResultCall.state == "pending", ResultCall.next_attempt_at <= moment)
                .order_by(ResultCall.next_attempt_at, ResultCall.id)
                .limit(max(limit * 4, 8))
            )
            for row in list(session.scalars(query)):
                if len(claimed) >= limit:
                    break
                opens = self.next_time(moment)
                if opens > moment:  # outside the call hours: wait for the window to open
                    self._defer(session, row, opens)
                    continue
                taken = self._take(session, row, node, moment)
                if taken is not None:
                    claimed.append(taken)
        return claimed

    def _defer(self, session: Session, row: ResultCall, opens: datetime) -> None:
        session.execute(
            update(ResultCall)
            .where(ResultCall.id == row.id, ResultCall.state == "pending")
            .values(next_attempt_at=opens)
            .execution_options(synchronize_session=False)
        )

    def _take(
        self, session: Session, row: ResultCall, node: str, moment: datetime
    ) -> ClaimedAttempt | None:
        number = row.attempts + 1
        lease_until = moment + timedelta(seconds=self.settings.lease)
        if not _move(
            session, row.id, "pending", row.attempts, "calling",
            attempts=number, lease_owner=node, lease_until=lease_until,
        ):  # fmt: skip
            return None  # another node took it first
        session.refresh(row)
        ticket = session.get(Ticket, row.ticket_id)
        assert ticket is not None
        attempt = ResultCallAttempt(
            result_call_id=row.id,
            ticket_id=ticket.id,
            number=number,
            node=node,
            started_at=moment,
        )
        session.add(attempt)
        session.flush()
        problem = callback_problem(ticket.caller_phone)
        if problem is not None:
            self._settle(
                session, row, attempt, ticket, "failed", moment, reason=problem, final=True
            )
            return None
        progress = None
        if row.trigger == "progress":
            latest = session.scalars(
                select(CitizenUpdate)
                .where(CitizenUpdate.ticket_id == ticket.id, CitizenUpdate.channel == "agency")
                .order_by(CitizenUpdate.id.desc())
                .limit(1)
            ).first()
            progress = latest.message if latest else None
        return ClaimedAttempt(
            result_call_id=row.id,
            attempt_id=attempt.id,
            attempt=number,
            node=node,
            trigger=row.trigger,
            ticket_reference=ticket.reference,
            number=dial_digits(ticket.caller_phone or ""),
            status=ticket.status.value,
            agency_code=ticket.agency_code,
            resolution_type=ticket.resolution_type,
            category=ticket.category,
            progress=progress,
        )

    def _recover_expired(self, session: Session, moment: datetime) -> int:
        """Attempts whose node stopped holding the lease: recorded once, retried later."""
        stale = list(
            session.scalars(
                select(ResultCall).where(
                    ResultCall.state == "calling", ResultCall.lease_until < moment
                )
            )
        )
        recovered = 0
        for row in stale:
            owner = ResultCall.lease_owner == row.lease_owner
            if not _move(session, row.id, "calling", row.attempts, "settling", owner):
                continue
            session.refresh(row)
            attempt = self._open_attempt(session, row)
            ticket = session.get(Ticket, row.ticket_id)
            assert ticket is not None
            if attempt is None:
                attempt = ResultCallAttempt(
                    result_call_id=row.id, ticket_id=row.ticket_id, number=row.attempts
                )
                session.add(attempt)
            self._settle(session, row, attempt, ticket, "failed", moment, reason=INTERRUPTED)
            log.warning(
                "result call %d (ticket %s): attempt %d interrupted on node %s; retried later",
                row.id,
                ticket.reference,
                row.attempts,
                row.lease_owner,
            )
            recovered += 1
        return recovered

    @staticmethod
    def _open_attempt(session: Session, row: ResultCall) -> ResultCallAttempt | None:
        return session.scalars(
            select(ResultCallAttempt).where(
                ResultCallAttempt.result_call_id == row.id,
                ResultCallAttempt.number == row.attempts,
                ResultCallAttempt.outcome.is_(None),
            )
        ).first()

    # --- outcomes ---------------------------------------------------------------------------
    def finish(
        self,
        claimed: ClaimedAttempt,
        outcome: str,
        *,
        rating: int | None = None,
        sip_status: int | None = None,
        reason: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Record what became of an attempt; False when this node no longer held its lease (the
        attempt was already recorded as interrupted)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown result-call outcome {outcome!r}")
        if rating is not None and not 1 <= rating <= 5:
            raise ValueError("a rating is 1 to 5")
        moment = now or utcnow()
        with self._transaction() as session:
            owner = ResultCall.lease_owner == claimed.node
            won = _move(
                session, claimed.result_call_id, "calling", claimed.attempt, "settling", owner
            )
            if not won:
                log.warning(
                    "result call %d: attempt %d ended after its lease was taken over",
                    claimed.result_call_id,
                    claimed.attempt,
                )
                return False
            row = session.get(ResultCall, claimed.result_call_id)
            attempt = session.get(ResultCallAttempt, claimed.attempt_id)
            assert row is not None and attempt is not None
            session.refresh(row)
            ticket = session.get(Ticket, row.ticket_id)
            assert ticket is not None
            attempt.sip_status = sip_status
            self._settle(
                session, row, attempt, ticket, outcome, moment, rating=rating, reason=reason
            )
        return True

    def _settle(
        self,
        session: Session,
        row: ResultCall,
        attempt: ResultCallAttempt,
        ticket: Ticket,
        outcome: str,
        moment: datetime,
        *,
        rating: int | None = None,
        reason: str | None = None,
        final: bool = False,
    ) -> None:
        attempt.outcome = outcome
        attempt.rating = rating
        attempt.reason = reason
        attempt.ended_at = moment
        row.last_outcome = outcome
        row.lease_owner = None
        row.lease_until = None
        next_at: datetime | None = None
        if outcome in REACHED:
            row.state, row.finished_at, row.reason = "done", moment, None
        elif final or row.attempts >= row.max_attempts:
            row.state, row.finished_at = "exhausted", moment
            row.reason = reason if final else f"{row.attempts} attempts, the last: {outcome}"
        else:
            row.state = "pending"
            next_at = self.next_time(moment + timedelta(seconds=self.settings.spacing))
            row.next_attempt_at = next_at
        after = {
            "attempt": attempt.number,
            "outcome": outcome,
            "rating": rating,
            "reason": reason,
            "state": row.state,
            "next_attempt_at": iso(next_at),
            "trigger": row.trigger,
        }
        session.add(AuditEvent(ticket_id=ticket.id, actor=ACTOR, action="result_call", after=after))
        masked = mask_digits(dial_digits(ticket.caller_phone or "")) or ""
        record_event(
            session,
            "citizen.call_attempt",
            {
                "ticket_reference": ticket.reference,
                "province_code": ticket.province_code,
                "caller_masked": masked,
                "at": iso(moment),
                **{k: v for k, v in after.items() if k != "reason"},
                "reason": reason,
            },
        )
        if rating is not None:
            session.add(SurveyResult(ticket_id=ticket.id, rating=rating, comment="result_call"))
            record_event(
                session,
                "survey.rated",
                {
                    "ticket_reference": ticket.reference,
                    "province_code": ticket.province_code,
                    "rating": rating,
                    "source": "result_call",
                    "at": iso(moment),
                },
            )
        if outcome == "wants_officer":
            self._officer_follow_up(session, ticket, masked, moment)
        log.info(
            "result call %d (ticket %s, %s): attempt %d %s%s",
            row.id,
            ticket.reference,
            masked,
            attempt.number,
            outcome,
            f" ({reason})" if reason else "",
        )

    def _officer_follow_up(
        self, session: Session, ticket: Ticket, masked: str, moment: datetime
    ) -> None:
        notify(
            session,
            self._catalog,
            ticket.id,
            Audience(province_supervisors=ticket.province_code, central=True),
            kind="citizen_callback",
            title=f"ผู้ร้องเรื่อง {ticket.reference} ขอคุยกับเจ้าหน้าที่ (โทรกลับ {masked})",
            body="ผู้ร้องกด 0 ระหว่างโทรแจ้งผล: โปรดโทรกลับและบันทึกการติดต่อ",
        )
        # A callback request in the live call-takers' queue (its own list in the console): the
        # node's callback worker puts it in line and an officer's call is placed through the trunk.
        request = None
        number = clean_phone(ticket.caller_phone or "")
        if number:
            request = CallbackRequest(
                call_id=None,
                ticket_reference=ticket.reference,
                number=number,
                requested_at=moment,
                queue_position_at=moment,
                state="pending",
                attempts=0,
                updated_at=moment,
            )
            session.add(request)
            session.flush()
        record_event(
            session,
            "callback.requested",
            {
                "callback_id": request.id if request is not None else None,
                "ticket_reference": ticket.reference,
                "province_code": ticket.province_code,
                "caller_masked": masked,
                "source": "result_call",
                "at": iso(moment),
            },
        )

    # --- reading ----------------------------------------------------------------------------
    def state_of(self, reference: str) -> list[dict[str, Any]]:
        """Each result call of a ticket (for the console and tests): state, attempts, reason."""
        with self._sessions() as session:
            ticket = session.scalars(select(Ticket).where(Ticket.reference == reference)).first()
            if ticket is None:
                return []
            rows = session.scalars(
                select(ResultCall).where(ResultCall.ticket_id == ticket.id).order_by(ResultCall.id)
            )
            return [
                {
                    "id": r.id,
                    "trigger": r.trigger,
                    "state": r.state,
                    "attempts": r.attempts,
                    "max_attempts": r.max_attempts,
                    "next_attempt_at": iso(as_utc(r.next_attempt_at)),
                    "last_outcome": r.last_outcome,
                    "reason": r.reason,
                }
                for r in rows
            ]
