"""What goes into the call-flow state machine (events) and what comes out (actions).

Plain frozen dataclasses: the session runner turns channel activity into events and carries out
the actions; tests feed events and compare actions, with no socket, clock or database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# --- events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """The call is answered; ``open_references`` are the caller's open tickets, newest first."""

    open_references: tuple[str, ...] = ()
    caller_number: str | None = None  # offered for a callback request (read back first)


@dataclass(frozen=True)
class Digit:
    key: str


@dataclass(frozen=True)
class Timeout:
    """The timer of the last SetTimer ran out."""


@dataclass(frozen=True)
class PromptFinished:
    """All queued prompt audio has been sent."""


@dataclass(frozen=True)
class RecordingStarted:
    """The recording runs; ``reference`` is its draft ticket (None when the database failed)."""

    reference: str | None


@dataclass(frozen=True)
class SpeechStarted:
    """The speech detector heard the caller for the first time in this recording."""


@dataclass(frozen=True)
class RecordingEnded:
    """The recorder stopped on its own: 'silence', 'no_speech' or 'max_length'."""

    reason: str


@dataclass(frozen=True)
class StatusResult:
    """Outcome of LookupStatus: 'found', 'unknown' or 'error' (the database failed)."""

    outcome: str
    reference: str = ""
    status: str = ""
    agency_prompt: str | None = None
    since: date | None = None
    result_prompt: str | None = None  # the kind of result (resolved, referred...), issue 12
    progress_on: date | None = None  # the day of the agency's latest progress report


@dataclass(frozen=True)
class CallerHungUp:
    pass


@dataclass(frozen=True)
class RecordingFailed:
    """The recording cannot be stored (the folder is unwritable, the disk is full): the caller
    must not be told that their complaint was saved."""

    reason: str


# --- actions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Play:
    prompts: tuple[str, ...]


@dataclass(frozen=True)
class StopPlayback:
    pass


@dataclass(frozen=True)
class SetTimer:
    seconds: float


@dataclass(frozen=True)
class CancelTimer:
    pass


@dataclass(frozen=True)
class StartRecording:
    """Open the WAV file and create the recording row with its draft ticket at once (callback
    requests are a draft too, marked as such), then report RecordingStarted."""

    purpose: str  # 'complaint' or 'callback'
    max_seconds: float
    silence_seconds: float
    no_speech_seconds: float
    speech_level_dbfs: float


@dataclass(frozen=True)
class StopRecording:
    reason: str  # 'key', 'silence', 'no_speech', 'max_length', 'hangup'
    partial: bool = False


@dataclass(frozen=True)
class LookupStatus:
    """Read a ticket's status, then report StatusResult."""

    reference: str


@dataclass(frozen=True)
class StoreSurvey:
    rating: int


@dataclass(frozen=True)
class LogStep:
    step: str
    digits: str | None = None


@dataclass(frozen=True)
class HangUp:
    reason: str


@dataclass(frozen=True)
class RequestCallback:
    """Mark this call's draft as a callback request (the caller chose it after a failure)."""


# --- the queue (ivr/flow/queue_states.py) ---------------------------------------------------


@dataclass(frozen=True)
class QueueStatus:
    """Where the caller is in the queue (after EnterQueue / QueryQueue)."""

    position: int | None  # 1 = next to be offered; None: not (or no longer) queued
    estimate_seconds: float | None  # None: unknown, so not announced
    agents_logged_in: int  # 0: nobody to wait for -> callback and recording at once
    waited_seconds: float


@dataclass(frozen=True)
class UrgentHeard:
    """The understanding found danger in this call's partial transcript."""


@dataclass(frozen=True)
class AgentAnswered:
    """A call-taker's phone answered this caller's offer."""

    agent: str


@dataclass(frozen=True)
class ConversationOver:
    """The bridge ended: 'caller' hung up, 'agent' hung up after talking, or 'agent_lost' (the
    agent's leg died or hung up at once: the caller goes back to the head of the queue)."""

    by: str


@dataclass(frozen=True)
class EnterQueue:
    """Join the queue (again at the head when ``at_head``); report QueueStatus."""

    priority: str  # urgent | repeat | normal
    at_head: bool = False


@dataclass(frozen=True)
class QueryQueue:
    """Report QueueStatus."""


@dataclass(frozen=True)
class LeaveQueue:
    why: str  # 'callback', 'recording'


@dataclass(frozen=True)
class ConnectAgent:
    """Bridge the caller to the agent who answered; report ConversationOver when it ends."""


@dataclass(frozen=True)
class RequestQueueCallback:
    """Store a callback request for ``number`` at the caller's place in the queue."""

    number: str


Event = (
    Started
    | Digit
    | Timeout
    | PromptFinished
    | RecordingStarted
    | SpeechStarted
    | RecordingEnded
    | StatusResult
    | CallerHungUp
    | RecordingFailed
    | QueueStatus
    | UrgentHeard
    | AgentAnswered
    | ConversationOver
)

Action = (
    Play
    | StopPlayback
    | SetTimer
    | CancelTimer
    | StartRecording
    | StopRecording
    | LookupStatus
    | StoreSurvey
    | LogStep
    | HangUp
    | RequestCallback
    | EnterQueue
    | QueryQueue
    | LeaveQueue
    | ConnectAgent
    | RequestQueueCallback
)
