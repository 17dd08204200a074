"""A call-taker's presence as a pure state machine: events in, the new state out.

It lives in ticketing, not ivr/queue, because both the IVR node (ringing, calls) and the web
console (the agent's own requests) drive it, and the layer contract lets agent_ui import
ticketing but never ivr; ``ivr.queue.presence`` re-exports it for the queue code. No I/O here:
the live state is kept by :mod:`ticketing.presence_store`.

States follow contact-centre practice (Asterisk queue members, FreeSWITCH mod_callcenter):
offline, available, ringing, on_call, wrap_up, break (with a reason code). Every change goes
through :meth:`AgentPresence._set_state`, which checks the table of allowed transitions and logs.

The state never gets stuck: :meth:`AgentPresence.reconcile` compares it with the phone's
registration and the calls actually in progress (a node crash or a lost BYE leaves no trace in
them) and moves the agent where a real agent would expect to be.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from config.agent_states import NO_ANSWER, AgentStatesConfig
from ticketing.errors import Conflict, InvalidInput

log = logging.getLogger(__name__)


class AgentState(StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    BREAK = "break"


S = AgentState
ALLOWED_TRANSITIONS: dict[AgentState, frozenset[AgentState]] = {
    S.OFFLINE: frozenset({S.AVAILABLE, S.BREAK}),
    S.AVAILABLE: frozenset({S.RINGING, S.BREAK, S.OFFLINE}),
    # ringing ends answered, unanswered (break), cancelled (caller hung up: available) or offline
    S.RINGING: frozenset({S.ON_CALL, S.AVAILABLE, S.BREAK, S.OFFLINE}),
    # a call ends in wrap-up; a phone that vanished mid-call (registration gone, no call) offline
    S.ON_CALL: frozenset({S.WRAP_UP, S.OFFLINE}),
    S.WRAP_UP: frozenset({S.AVAILABLE, S.BREAK, S.OFFLINE}),
    S.BREAK: frozenset({S.AVAILABLE, S.OFFLINE, S.BREAK}),  # break -> break: a new reason
}
# What an agent may ask for from the console; the rest follow calls.
REQUESTABLE = frozenset({S.AVAILABLE, S.BREAK, S.OFFLINE})


class PresenceError(Conflict):
    """The change is not allowed from the current state (the API answers 409)."""


@dataclass(frozen=True)
class Change:
    """One step the machine took (for the history table and the ``agent.state`` event)."""

    previous: AgentState
    presence: Presence
    why: str


@dataclass(frozen=True)
class Presence:
    """The stored snapshot of one agent's presence (what every node and web process sees)."""

    username: str
    state: AgentState = S.OFFLINE
    since: datetime | None = None
    reason: str | None = None  # only in break
    call_id: str | None = None  # ringing / on_call / wrap_up
    last_call_ended_at: datetime | None = None  # longest-idle ordering
    wrap_up_until: datetime | None = None


class AgentPresence:
    """One agent's presence; methods are the events, each ending in one ``_set_state``."""

    def __init__(self, presence: Presence, config: AgentStatesConfig) -> None:
        self.presence = presence
        self._config = config
        self.changes: list[Change] = []

    @property
    def state(self) -> AgentState:
        return self.presence.state

    def _set_state(
        self,
        new: AgentState,
        now: datetime,
        *,
        why: str,
        reason: str | None = None,
        call_id: str | None = None,
        **fields: object,
    ) -> Presence:
        old = self.presence
        if new not in ALLOWED_TRANSITIONS[old.state]:
            raise PresenceError(f"agent {old.username}: {old.state} cannot become {new} ({why})")
        self.presence = replace(
            old,
            state=new,
            since=now,
            reason=reason if new is S.BREAK else None,
            call_id=call_id,
            wrap_up_until=None,
            **fields,  # type: ignore[arg-type]
        )
        self.changes.append(Change(old.state, self.presence, why))
        suffix = f" ({reason})" if new is S.BREAK else ""
        log.info("agent %s: %s -> %s%s: %s", old.username, old.state, new, suffix, why)
        return self.presence

    # --- the agent's own requests --------------------------------------------------------------
    def request(self, state: AgentState, now: datetime, reason: str | None = None) -> Presence:
        """The console's PUT: available (also ends wrap-up early), break with a reason, offline."""
        if state not in REQUESTABLE:
            raise InvalidInput(
                f"an agent cannot set {state}; only available, break, offline", "state"
            )
        if state is S.BREAK:
            if reason not in self._config.reason_codes():
                codes = ", ".join(sorted(self._config.reason_codes()))
                raise InvalidInput(f"break needs a reason, one of: {codes}", "reason")
        elif reason is not None:
            raise InvalidInput("a reason goes only with break", "reason")
        if state is self.state and state is not S.BREAK:
            return self.presence  # idempotent: a second click changes nothing
        if self.state in (S.RINGING, S.ON_CALL) and state is not S.OFFLINE:
            raise PresenceError(
                f"agent {self.presence.username} is {self.state}; change state after the call"
            )
        return self._set_state(state, now, why="agent's request", reason=reason)

    # --- what calls do -------------------------------------------------------------------------
    def _expect(self, state: AgentState, event: str) -> None:
        if self.state is not state:
            raise PresenceError(
                f"agent {self.presence.username}: {self.state} cannot become anything by {event}"
                f" (only from {state})"
            )

    def ring(self, call_id: str, now: datetime) -> Presence:
        if self.presence.state is S.RINGING and self.presence.call_id == call_id:
            # The same ring again: a retry whose first attempt was stored but whose reply was
            # lost (a Redis timeout under load). Refusing it left the agent ringing for a call
            # that had moved on to the next agent (seen: 22 of 100 agents in the benchmark).
            return self.presence
        return self._set_state(S.RINGING, now, why=f"call {call_id} offered", call_id=call_id)

    def answer(self, now: datetime) -> Presence:
        self._expect(S.RINGING, "answer")
        return self._set_state(S.ON_CALL, now, why="answered", call_id=self.presence.call_id)

    def no_answer(self, now: datetime) -> Presence:
        self._expect(S.RINGING, "no answer")
        call = self.presence.call_id
        return self._set_state(S.BREAK, now, why=f"call {call} not answered", reason=NO_ANSWER)

    def ring_cancelled(self, now: datetime) -> Presence:
        """The caller hung up (or another agent took the call) while this phone rang."""
        self._expect(S.RINGING, "ring cancelled")
        return self._set_state(S.AVAILABLE, now, why=f"call {self.presence.call_id} cancelled")

    def hang_up(self, now: datetime) -> Presence:
        self._expect(S.ON_CALL, "hang-up")
        call = self.presence.call_id
        until = now + timedelta(seconds=self._config.wrap_up_seconds)
        self._set_state(S.WRAP_UP, now, why=f"call {call} ended", call_id=call)
        self.presence = replace(self.presence, last_call_ended_at=now, wrap_up_until=until)
        last = self.changes[-1]
        self.changes[-1] = Change(last.previous, self.presence, last.why)
        return self.presence

    def tick(self, now: datetime) -> Presence:
        """Time passing: wrap-up over -> available."""
        until = self.presence.wrap_up_until
        if self.state is S.WRAP_UP and until is not None and now >= until:
            return self._set_state(S.AVAILABLE, now, why="wrap-up time over")
        return self.presence

    def reconcile(self, now: datetime, *, registered: bool, call_in_progress: bool) -> Presence:
        """Bring the state in line with the phone and the calls that really exist.

        * no call any more while ringing: available (the offer is gone); while on a call: the
          wrap-up the agent expects after a call (its BYE was lost or the node died);
        * registration expired and no call: offline (a call still up finishes first);
        * wrap-up past its time: available.
        """
        if not call_in_progress:
            if self.state is S.RINGING:
                self._set_state(S.AVAILABLE, now, why="reconciled: the offered call is gone")
            elif self.state is S.ON_CALL:
                self.hang_up(now)
        if not registered and not call_in_progress and self.state is not S.OFFLINE:
            return self._set_state(S.OFFLINE, now, why="reconciled: phone registration expired")
        return self.tick(now)
