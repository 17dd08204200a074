"""The result-call outbox (issue 12): one row per call the citizen is owed, one per attempt.
Imported at the end of models.py so it is part of the one schema (models.py is at its limit)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.model_base import Base
from ticketing.timeutil import utcnow


class ResultCall(Base):
    """A call the citizen is owed: written in the transaction that resolved the ticket (or
    recorded an agency's progress report); a node claims it with a lease to place an attempt."""

    __tablename__ = "result_calls"
    __table_args__ = (Index("ix_result_calls_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    trigger: Mapped[str] = mapped_column(String(16), default="result")  # result, progress
    # pending (due at next_attempt_at), calling (leased by a node), done, exhausted, cancelled
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)  # why it ended without reaching the citizen
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class ResultCallAttempt(Base):
    """One dial of a result call and what became of it (outcome None while it runs)."""

    __tablename__ = "result_call_attempts"
    __table_args__ = (UniqueConstraint("result_call_id", "number", name="uq_result_call_attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    result_call_id: Mapped[int] = mapped_column(ForeignKey("result_calls.id"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, 3 ...
    node: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    # answered, no_answer, busy, failed, message_left, rated, wants_officer
    outcome: Mapped[str | None] = mapped_column(String(16))
    rating: Mapped[int | None] = mapped_column(Integer)
    sip_status: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
