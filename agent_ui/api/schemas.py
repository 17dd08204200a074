"""Request and response bodies of /api/v1 as pydantic v2 models: the handlers validate with them
and ``/api/v1/openapi.json`` is generated from them, so the two cannot drift apart.

Request models are strict (no "yes" for true, no 5 for a string) and forbid unknown fields;
response models forbid fields they do not list, so a handler that returns a field the schema
lacks fails (see ``agent_ui.api.contract.reply``) instead of drifting silently.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from ticketing.status import TicketStatus

MAX_INT = 2**63 - 1
DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Version = Annotated[int, Field(ge=0, le=MAX_INT)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests ---------------------------------------------------------------------------------
class NewTicket(Body):
    description: str = Field(min_length=1, max_length=20_000)
    category: str | None = Field(None, max_length=32)
    province_code: str | None = Field(None, max_length=2)
    district_code: str | None = Field(None, max_length=4)
    caller_phone: str | None = Field(None, max_length=32)
    citizen_id: str | None = Field(None, max_length=32)
    urgent: bool = False
    channel: Literal["phone", "web", "api", "walk_in", "letter", "line"] = "api"


class TicketEdit(Body):
    """Only the fields sent are changed; ``version`` is the optimistic lock."""

    version: Version | None = None
    description: str = Field("", max_length=20_000)
    category: str | None = Field(None, max_length=32)
    province_code: str | None = Field(None, max_length=2)
    district_code: str | None = Field(None, max_length=4)
    caller_phone: str | None = Field(None, max_length=32)
    citizen_id: str | None = Field(None, max_length=32)
    urgent: bool = False


class Transition(Body):
    to: TicketStatus = Field(description="the new status (routed: see agency_code)")
    reason: str | None = Field(None, max_length=2000, description="required for rejected")
    duplicate_of: str | None = Field(None, max_length=20, description="required for duplicate")
    resolution: str | None = Field(None, max_length=20_000)
    agency_code: str | None = Field(None, max_length=64, description="with to=routed")
    note: str | None = Field(None, max_length=2000, description="with to=routed")
    version: Version | None = None


class Routing(Body):
    agency_code: str | None = Field(None, max_length=64, description="omit for the suggestion")
    note: str | None = Field(None, max_length=2000)
    version: Version | None = None


class NewCitizenUpdate(Body):
    message: str = Field(max_length=5000)
    channel: Literal["phone", "sms", "letter", "email", "line", "in_person"] = "phone"


class Reveal(Body):
    reason: str = Field(max_length=500, description="why the unmasked data is needed (audited)")


class AgentStateRequest(Body):
    """A call-taker's own presence; ``available`` also ends wrap-up early."""

    state: Literal["available", "break", "offline"]
    reason: str | None = Field(
        None, max_length=32, description="with break (only): a code from agent_states.toml"
    )


# The agency console's requests (/agency/api/..., beside /api/v1: the console's own JSON).
class AgencyReturn(Body):
    reason: str = Field("", max_length=2000, description="why it goes back (required)")


class AgencyProgress(Body):
    message: str = Field("", max_length=5000, description="citizen-facing progress report")


class AgencyResult(Body):
    resolution: str = Field("", max_length=20_000)
    resolution_type: str = Field(
        "resolved", max_length=32, description="resolved|referred|cannot_be_solved|withdrawn"
    )


# --- responses --------------------------------------------------------------------------------
class SlaClock(Out):
    due: DateTime
    state: Literal["ok", "warning", "breached", "met"]
    level: int = Field(ge=0, le=3, description="escalation level the scheduler marked")


class Sla(Out):
    """Each clock's due time and state; null when the clock does not apply to the ticket."""

    confirm: SlaClock | None
    progress: SlaClock | None
    resolve: SlaClock | None


class Ticket(Out):
    id: int
    reference: str
    status: TicketStatus
    version: int
    channel: str
    category: str | None
    urgent: bool
    province_code: str | None
    district_code: str | None
    caller_phone: str | None = Field(description="masked (last four digits) for some roles")
    citizen_id: str | None = Field(description="masked (last four digits) for some roles")
    description: str
    transcript: str | None
    transcript_words: list[dict[str, Any]] | None
    field_confidence: dict[str, float]
    asr_status: str
    asr_error: str | None
    call_id: str | None
    recording_id: int | None
    agency_code: str | None
    duplicate_of: str | None
    reject_reason: str | None
    resolution: str | None
    claimed_by: int | None
    claim_expires_at: DateTime | None
    created_at: DateTime
    updated_at: DateTime
    confirmed_at: DateTime | None
    routed_at: DateTime | None
    first_update_at: DateTime | None
    resolved_at: DateTime | None
    closed_at: DateTime | None
    confirm_due_at: DateTime | None
    progress_due_at: DateTime | None
    resolve_due_at: DateTime | None
    overdue: bool
    escalation_level: int = Field(ge=0, le=3)
    sla: Sla
    resolution_type: str | None
    returned_by: str | None
    result_calls: list[ResultCallEntry] = Field(
        default_factory=list, description="each result-call attempt (issue 12; detail only)"
    )
    rating: int | None = Field(
        default=None, ge=1, le=5, description="the latest rating, result call or survey"
    )


class ResultCallEntry(Out):
    at: DateTime
    outcome: str = Field(
        description="calling, answered, no_answer, busy, failed, message_left, rated, wants_officer"
    )
    rating: int | None


class CloseRule(Out):
    allowed: bool
    why: str = Field(description="what allows closing, or what is missing")
    code: str = Field(
        description="officer, result_call, exhausted (allowed); pending, nobody, not_resolved"
    )


class AuditEntry(Out):
    actor: str
    action: str
    before: dict[str, Any]
    after: dict[str, Any]
    at: DateTime


class Assignment(Out):
    agency_code: str
    suggested_agency: str | None
    note: str
    assigned_by: str
    assigned_at: DateTime
    active: bool


class CitizenUpdate(Out):
    message: str
    channel: str
    created_by: str
    created_at: DateTime


# --- the agency console's responses ----------------------------------------------------------
class AgencyTicket(Out):
    """A ticket as its agency sees it: personal data masked, the nearest deadline first."""

    reference: str
    status: TicketStatus
    version: int
    category: str | None
    urgent: bool
    province_code: str | None
    district_code: str | None
    caller_phone: str | None = Field(description="masked for agency users")
    citizen_id: str | None = Field(description="masked for agency users")
    description: str
    agency_code: str | None
    resolution: str | None
    created_at: DateTime
    routed_at: DateTime | None
    first_update_at: DateTime | None
    resolved_at: DateTime | None
    progress_due_at: DateTime | None
    resolve_due_at: DateTime | None
    resolution_type: str | None
    escalation_level: int = Field(ge=0, le=3)
    next_due_at: DateTime | None
    overdue: bool
    agency_name: str | None
    sla: Sla | None = None


class AgencyWorklist(Out):
    items: list[AgencyTicket]
    count: int


class TimelineEntry(Out):
    action: str
    actor: str
    at: DateTime
    text: str | None = None
    agency_code: str | None = None


class AgencyTicketDetail(AgencyTicket):
    updates: list[CitizenUpdate]
    timeline: list[TimelineEntry]


class AgencyReturned(Out):
    reference: str
    status: TicketStatus
    returned_by: str | None


class TicketDetail(Ticket):
    audit: list[AuditEntry]
    assignments: list[Assignment]
    updates: list[CitizenUpdate]
    suggested_agency: str
    suggestion_rule: str = Field(description="which routing rule suggested the agency")
    close_rule: CloseRule | None = None


class TicketPage(Out):
    items: list[Ticket]
    next_cursor: int | None


class AuditPage(Out):
    items: list[AuditEntry]


class SuggestedAgency(Out):
    agency_code: str
    name_th: str
    name_en: str
    rule: str = Field(description="which routing rule chose it (district, province or *)")


class Category(Out):
    code: str
    name_th: str
    name_en: str
    progress_days: int
    resolve_days: int


class Agency(Out):
    code: str
    name_th: str
    name_en: str
    province_code: str | None


class Province(Out):
    code: str
    name_th: str


class District(Out):
    code: str
    province_code: str
    name_th: str


class Catalog(Out):
    categories: list[Category]
    agencies: list[Agency]
    provinces: list[Province]
    districts: list[District]


class MetricsSummary(RootModel[dict[str, Any]]):
    """The supervisor's figures (the same as the dashboard's tiles and backlog)."""


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str
    message: str
    field: str | None = None


class Error(Out):
    error: ErrorDetail


AgentStateName = Literal["offline", "available", "ringing", "on_call", "wrap_up", "break"]


class AgentPresence(Out):
    username: str
    state: AgentStateName
    since: DateTime | None = Field(description="when this state began; null: never signed in")
    reason: str | None = Field(description="the break reason code (state break only)")
    call_id: str | None = Field(description="the call ringing, in progress or in wrap-up")
    wrap_up_until: DateTime | None


class AgentListed(AgentPresence):
    display_name: str


class AgentList(Out):
    items: list[AgentListed]


# --- live call-takers: calls and callback requests (issue 13) -------------------------------
CallOutcome = Literal[
    "ivr_only", "answered", "abandoned_in_queue", "callback_requested", "transferred", "error"
]
CallbackState = Literal["pending", "offered", "dialling", "done", "failed"]


class CallRecord(Out):
    id: str = Field(description="our call id (not SIP's Call-ID)")
    caller: str | None = Field(description="the caller's number, masked for masked roles")
    started_at: DateTime
    queue_entered_at: DateTime | None = Field(description="joined the queue; null: never queued")
    answered_at: DateTime | None = Field(description="a call-taker answered; null: none did")
    agent: str | None = Field(description="the call-taker's user name")
    wait_seconds: float | None = Field(description="queue entry to answer (or to leaving it)")
    talk_seconds: float | None = Field(description="bridged time less hold")
    outcome: CallOutcome | None = Field(description="null while the call is in progress")
    ticket_reference: str | None


class CallList(Out):
    items: list[CallRecord]


class CallbackRequest(Out):
    id: int
    call_id: str | None
    ticket_reference: str | None
    number: str | None = Field(description="the number to call back, masked for masked roles")
    requested_at: DateTime
    queue_position_at: DateTime = Field(description="the caller's place in line (queue entry)")
    state: CallbackState
    attempts: int
    last_outcome: str | None = Field(description="what the last attempt's call became")
    agent: str | None = Field(description="the call-taker who has or had it")
    updated_at: DateTime


class CallbackList(Out):
    items: list[CallbackRequest]


class TransferRequest(Body):
    target: str = Field(
        description="queue (back to the head of the queue), agent:<user name> (an available"
        " call-taker) or hub:<number> of hubs.toml",
        max_length=40,
    )


class LegRequest(Body):
    action: Literal["hold", "resume", "mute", "unmute"] = Field(
        description="hold / resume the caller; mute / unmute the officer's microphone"
    )


class CallCommandSent(Out):
    call_id: str
    action: str
    target: str
    node: str = Field(description="the IVR node holding the call, which carries it out")
