"""SQLAlchemy 2 typed models: the one schema every process shares."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ticketing.model_base import Base
from ticketing.status import TicketStatus
from ticketing.timeutil import utcnow


class Role:
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    AGENCY = "agency"  # staff of one agency: sees only the tickets routed to it
    ALL = ("agent", "supervisor", "admin", "agency")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    provinces: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty = all provinces
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    agency_code: Mapped[str | None] = mapped_column(String(64))  # role agency: whose queue


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex
    prefix: Mapped[str] = mapped_column(String(12))  # shown in listings to tell tokens apart
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class Agency(Base):
    __tablename__ = "agencies"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_th: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    province_code: Mapped[str | None] = mapped_column(String(2))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ReferenceCounter(Base):
    """One row per Buddhist-era year; incremented in the ticket's own transaction."""

    __tablename__ = "reference_counters"

    year_prefix: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"))
    path: Mapped[str] = mapped_column(String(500))  # relative to the data dir
    sample_rate: Mapped[int] = mapped_column(Integer, default=8000)
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    partial: Mapped[bool] = mapped_column(Boolean, default=False)  # caller hung up mid-recording
    complete: Mapped[bool] = mapped_column(Boolean, default=False)  # file closed and final
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    purge_after: Mapped[datetime | None]  # PDPA retention
    purged_at: Mapped[datetime | None]  # the audio file was deleted at the end of retention
    write_error: Mapped[str | None] = mapped_column(String(500))  # storage failed mid-call
    channel: Mapped[str | None] = mapped_column(String(8))  # None mono; caller left, agent right


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[TicketStatus] = mapped_column(
        Enum(
            TicketStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    version: Mapped[int] = mapped_column(Integer, default=1)  # optimistic locking
    channel: Mapped[str] = mapped_column(String(16), default="api")  # phone, web, api, walk_in
    category: Mapped[str | None] = mapped_column(String(32))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    province_code: Mapped[str | None] = mapped_column(String(2))
    district_code: Mapped[str | None] = mapped_column(String(4))
    caller_phone: Mapped[str | None] = mapped_column(String(32))
    citizen_id: Mapped[str | None] = mapped_column(String(13))
    description: Mapped[str] = mapped_column(Text, default="")
    transcript: Mapped[str | None] = mapped_column(Text)
    transcript_words: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    field_confidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    asr_status: Mapped[str] = mapped_column(String(16), default="none")
    asr_error: Mapped[str | None] = mapped_column(Text)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"))
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("recordings.id"))
    agency_code: Mapped[str | None] = mapped_column(ForeignKey("agencies.code"))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claim_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    routed_at: Mapped[datetime | None]
    first_update_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    confirm_due_at: Mapped[datetime | None]
    progress_due_at: Mapped[datetime | None]
    resolve_due_at: Mapped[datetime | None]
    # Agencies and SLA (ticketing/agency_work.py, ticketing/sla*.py). Changed with Core updates
    # where a person's open form must not turn stale (the scheduler's marks).
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    resolution_type: Mapped[str | None] = mapped_column(String(32))
    returned_by: Mapped[str | None] = mapped_column(String(64))  # the agency that returned it
    returned_at: Mapped[datetime | None]
    sla_state: Mapped[str] = mapped_column(String(16), default="ok", server_default="ok")
    sla_next_at: Mapped[datetime | None]  # when the scheduler must look again
    sla_version: Mapped[int | None] = mapped_column(Integer)  # the version it last looked at
    sla_levels: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # clock -> level marked
    latitude: Mapped[float | None] = mapped_column(Float)  # where (Open311 requests)
    longitude: Mapped[float | None] = mapped_column(Float)

    recording: Mapped[Recording | None] = relationship()
    duplicate_of: Mapped[Ticket | None] = relationship(remote_side=[id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_tickets_status_created", "status", "created_at"),
        # Covering indexes for the supervisor's backlog figures (index-only scans of open work).
        Index("ix_tickets_status_urgent_due", "status", "urgent", "resolve_due_at"),
        Index("ix_tickets_status_category", "status", "category"),
        Index("ix_tickets_status_province", "status", "province_code"),
        Index("ix_tickets_status_agency", "status", "agency_code"),
        Index("ix_tickets_confirmed_at", "confirmed_at"),
        Index("ix_tickets_category", "category"),
        Index("ix_tickets_province", "province_code"),
        Index("ix_tickets_agency", "agency_code"),
        Index("ix_tickets_caller_phone", "caller_phone"),
        Index("ix_tickets_citizen_id", "citizen_id"),
        Index("ix_tickets_resolve_due", "resolve_due_at"),
        Index("ix_tickets_call", "call_id"),
        Index("ix_tickets_sla_next", "sla_next_at"),
        Index("ix_tickets_sla_state", "sla_state"),
        Index("ix_tickets_sla_version", "sla_version"),
        Index("ix_tickets_updated_at", "updated_at"),
    )


class RoutingAssignment(Base):
    __tablename__ = "routing_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"))
    suggested_agency: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    assigned_by: Mapped[str] = mapped_column(String(100))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CitizenUpdate(Base):
    """A message reported back to the complainant (progress or result)."""

    __tablename__ = "citizen_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    message: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16), default="phone")  # phone, sms, letter, ...
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyResult(Base):
    __tablename__ = "survey_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Who did what to a ticket, when, before -> after; written in the change's transaction."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class RecordingAccess(Base):
    """Every listen to a recording (PDPA: log every access to personal data)."""

    __tablename__ = "recording_access"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    purpose: Mapped[str] = mapped_column(String(64), default="listen")


class OutboxEvent(Base):
    """Events written with the change that caused them; a relay publishes them to Redis."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_outbox_unpublished", "published_at", "id"),)


class WebSession(Base):
    """A signed-in console session; the cookie carries a random token, this row its hash. Ending
    the row (logout, password change, user disabled, "sign out everywhere") ends the session."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revoked_why: Mapped[str | None] = mapped_column(String(32))


class LoginThrottle(Base):
    """Failed sign-ins per client address and per (user name, address), keyed by a hash (a user
    name field sometimes holds a password typed in the wrong box)."""

    __tablename__ = "login_throttle"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None]
    blocked_until: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]


class SlaMark(Base):
    """One per (ticket, clock, level): the scheduler's idempotency key for an escalation."""

    __tablename__ = "sla_marks"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    clock: Mapped[str] = mapped_column(String(16))  # confirm, progress, resolve
    level: Mapped[int] = mapped_column(Integer)  # 1 warning, 2 breached, 3 escalated to central
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("ticket_id", "clock", "level", name="uq_sla_marks"),)


class Notification(Base):
    """A console notification for one user (unread until read_at)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    kind: Mapped[str] = mapped_column(String(32))  # routed, returned, sla_warning, sla_breached
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),)


class MailOutbox(Base):
    """Mail written with the change that caused it; a sender delivers it when SMTP answers."""

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_mail_outbox_due", "sent_at", "next_attempt_at"),)


class Open311Key(Base):
    """An Open311 client's API key (stored hashed)."""

    __tablename__ = "open311_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class Open311Outbound(Base):
    """A routed ticket sent to an agency's own Open311 server, and what it said back."""

    __tablename__ = "open311_outbound"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    agency_code: Mapped[str] = mapped_column(String(64))
    remote_id: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending, open, done
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    remote_status: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_open311_outbound_due", "state", "next_attempt_at"),)


class SchedulerFence(Base):
    """The highest lock fencing token that has written: a stale lock holder's pass is refused."""

    __tablename__ = "scheduler_fences"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    fence: Mapped[int] = mapped_column(Integer, default=0)


class SipSubscriber(Base):
    """A SIP account Kamailio's auth_db checks REGISTERs against (ticketing/sip_accounts.py)."""

    __tablename__ = "sip_subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    domain: Mapped[str] = mapped_column(String(64), default="")
    ha1: Mapped[str] = mapped_column(String(64))  # md5(username:realm:password)
    ha1b: Mapped[str] = mapped_column(String(128))  # md5(username@domain:realm:password)
    kind: Mapped[str] = mapped_column(String(16), default="ivr")  # 'ivr' or 'agent'
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = [
    "Agency",
    "ApiToken",
    "AuditEvent",
    "Base",
    "Call",
    "CitizenUpdate",
    "LoginThrottle",
    "MailOutbox",
    "Notification",
    "Open311Key",
    "Open311Outbound",
    "OutboxEvent",
    "Recording",
    "RecordingAccess",
    "ReferenceCounter",
    "Role",
    "RoutingAssignment",
    "SchedulerFence",
    "SlaMark",
    "SurveyResult",
    "Ticket",
    "User",
    "WebSession",
]

from ticketing.agent_history_model import AgentStateChange  # noqa: E402 (needs Base)
from ticketing.call_queue_model import Call, CallbackRequest  # noqa: E402 (needs Base)
from ticketing.channel_transcript_model import ChannelTranscript  # noqa: E402 (needs Base)
from ticketing.result_call_model import ResultCall, ResultCallAttempt  # noqa: E402 (needs Base)
from ticketing.sip_location_model import SipLocation  # noqa: E402 (needs Base)

__all__ += [
    "AgentStateChange",
    "CallbackRequest",
    "ChannelTranscript",
    "ResultCall",
    "ResultCallAttempt",
    "SipLocation",
]
