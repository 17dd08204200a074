"""Call records and callback requests (issue 13: live call-takers); imported at the end of
models.py so they are part of the one schema (models.py is at its size limit).

``calls`` times, all UTC: ``started_at`` the INVITE arrived, ``answered_at`` the IVR answered it
(the 200 OK to the caller), ``queue_entered_at`` the caller joined the queue (kept when they
are put back at the head), ``ringing_at`` the first agent's phone started ringing,
``agent_answered_at`` a call-taker answered (the bridge), ``ended_at`` the caller's leg ended.
Seconds: ``wait_seconds`` queue entry -> agent answered (or -> abandoned / callback requested),
``talk_seconds`` bridged time less hold, ``hold_seconds``, ``wrapup_seconds`` (the agent's
wrap-up after this call: the configured seconds while it lasts, then the measured time from
entering wrap-up to leaving it, ended early by the agent or by its timer). ``outcome`` is one
of :data:`CALL_OUTCOMES` (None while in progress).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.model_base import Base
from ticketing.timeutil import utcnow

CALL_OUTCOMES = (
    "ivr_only",  # never queued: the IVR alone (recorded, status lookup, hung up in the menu)
    "answered",  # a call-taker talked to the caller
    "abandoned_in_queue",  # the caller hung up while waiting (or while an agent's phone rang)
    "callback_requested",  # the caller left the queue with a callback request
    "transferred",  # an agent sent the caller on (another agent, the queue, a hub)
    "error",  # the system failed the call
)
PRIORITIES = ("urgent", "repeat", "normal")
CALLBACK_STATES = ("pending", "offered", "dialling", "done", "failed")


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # our id, not SIP's
    sip_call_id: Mapped[str] = mapped_column(String(255), default="")
    caller_number: Mapped[str | None] = mapped_column(String(32))
    node: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(64))
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)
    last_step: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    survey_rating: Mapped[int | None]
    # the queue and the call-taker (migration 0009)
    queue_entered_at: Mapped[datetime | None]
    ringing_at: Mapped[datetime | None]
    agent_answered_at: Mapped[datetime | None]
    agent_username: Mapped[str | None] = mapped_column(String(64))
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    hold_seconds: Mapped[float | None] = mapped_column(Float)
    wrapup_seconds: Mapped[float | None] = mapped_column(Float)
    priority: Mapped[str | None] = mapped_column(String(8))  # urgent | repeat | normal
    outcome: Mapped[str | None] = mapped_column(String(24))  # CALL_OUTCOMES
    transfer_target: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_queue_entered_at", "queue_entered_at"),
        Index("ix_calls_agent_started", "agent_username", "started_at"),
    )


class CallbackRequest(Base):
    """A caller's request to be called back: a first-class queue item that keeps the caller's
    place in line (``queue_position_at`` = when they entered the queue)."""

    __tablename__ = "callback_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"))
    ticket_reference: Mapped[str | None] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(32))  # stored as calls store numbers (clean)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    queue_position_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # CALLBACK_STATES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_outcome: Mapped[str | None] = mapped_column(String(24))  # a DialOutcome value
    agent_username: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_callback_requests_state", "state", "queue_position_at"),)
