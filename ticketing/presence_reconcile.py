"""The reconciler: no call-taker stays "ringing" or "on call" forever (issue 13).

Run by the scheduler role every quick pass (the instance holding the lease). For each agent the
live store knows, it compares the shown state with the facts:

* **calls in progress**, from the calls table: an agent ringing or on a call is in a call while
  the call their presence names (``call_id``) has not ended, was not taken by another agent, and
  is younger than :data:`STALE_CALL` (a node that crashed never writes ``ended_at``); a ring is
  over once it is older than the ring time plus :data:`RING_GRACE_SECONDS` (the node moves an
  unanswered agent on after the ring time: if it has not, it is gone);
* **phone registrations**, when a source is given (the scheduler gives Kamailio's location table
  through ``ticketing.sip_registrations``, :func:`phone_registrations`): an agent with no
  registered phone and no call is offline. Without a source, or when it cannot be read,
  registrations are not judged (no one is made offline on a guess).

Moves follow :meth:`ticketing.presence.AgentPresence.reconcile`: ringing with no call ->
available; on a call with no call -> wrap-up (what an agent expects after a call); no phone ->
offline. Each correction is logged and written to the agent's state history (and its
``agent.state`` event) with ``why`` starting "reconciled:".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.agents import AgentPresenceService
from ticketing.models import Call
from ticketing.presence import AgentPresence, AgentState, Presence
from ticketing.sip_registrations import SipRegistrations
from ticketing.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

STALE_CALL = timedelta(hours=2)
RING_GRACE_SECONDS = 30.0
IN_CALL = (AgentState.RINGING, AgentState.ON_CALL)
RegisteredUsers = Callable[[], set[str]]


@dataclass(frozen=True)
class CallFact:
    ended: bool
    agent: str | None
    started_at: datetime


class PresenceReconciler:
    def __init__(
        self,
        presence: AgentPresenceService,
        sessions: sessionmaker[Session],
        *,
        registered_users: RegisteredUsers | None = None,
        ring_seconds: float | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._presence = presence
        self._sessions = sessions
        self._registered = registered_users
        self._ring_seconds = (
            ring_seconds
            if ring_seconds is not None
            else float(presence.store.config.no_answer_seconds)
        )
        self._clock = clock

    def run(self, fence: object = None) -> int:
        """One pass over every agent; returns how many were corrected."""
        agents = self._presence.store.all()
        registered = self._registrations()
        facts = self._calls({p.call_id for p in agents if p.call_id and p.state in IN_CALL})
        corrected = 0
        for before in agents:
            in_call = self._in_call(before, facts)
            phone = registered is None or before.username in registered
            stuck = before.state in IN_CALL and not in_call
            gone = not phone and not in_call and before.state is not AgentState.OFFLINE
            if not (stuck or gone):
                continue
            now = self._clock()

            def correct(
                m: AgentPresence, t: datetime = now, i: bool = in_call, r: bool = phone
            ) -> None:
                _reconcile(m, t, i, r)

            after = self._presence.apply(before.username, correct)
            if after.state is not before.state:
                corrected += 1
                log.warning(
                    "presence reconciled: agent %s %s -> %s (call %s: %s; phone %s)",
                    before.username,
                    before.state,
                    after.state,
                    before.call_id or "-",
                    "in progress" if in_call else "gone",
                    "registered" if phone else "not registered",
                )
        return corrected

    def _registrations(self) -> set[str] | None:
        """The users with a registered phone; None (not judged) without a source or when it
        cannot be read (a database hiccup never makes everyone offline)."""
        if self._registered is None:
            return None
        try:
            return self._registered()
        except Exception:
            log.exception("presence reconciler: phone registrations unreadable; not judged")
            return None

    def _calls(self, call_ids: set[str]) -> dict[str, CallFact]:
        if not call_ids:
            return {}
        with self._sessions() as session:
            rows = session.execute(
                select(Call.id, Call.ended_at, Call.agent_username, Call.started_at).where(
                    Call.id.in_(sorted(call_ids))
                )
            ).all()
            return {
                call_id: CallFact(ended is not None, agent, as_utc(started))
                for call_id, ended, agent, started in rows
            }

    def _in_call(self, presence: Presence, facts: dict[str, CallFact]) -> bool:
        """Whether the call the agent's state names really goes on (see the module text)."""
        if presence.state not in IN_CALL:
            return False
        fact = facts.get(presence.call_id or "")
        now = self._clock()
        if fact is None or fact.ended or now - fact.started_at > STALE_CALL:
            return False
        if fact.agent is not None and fact.agent != presence.username:
            return False  # another agent took it
        if presence.state is AgentState.RINGING and presence.since is not None:
            rung = (now - as_utc(presence.since)).total_seconds()
            return rung <= self._ring_seconds + RING_GRACE_SECONDS
        return True


def _reconcile(machine: AgentPresence, now: datetime, in_call: bool, registered: bool) -> None:
    """The machine's own reconcile, with every correction it makes marked "reconciled"."""
    first = len(machine.changes)
    machine.reconcile(now, registered=registered, call_in_progress=in_call)
    for index in range(first, len(machine.changes)):
        change = machine.changes[index]
        if not change.why.startswith("reconciled"):
            why = f"reconciled: {change.why} (the call is gone: lost BYE or node down)"
            machine.changes[index] = replace(change, why=why)


def phone_registrations(
    sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
) -> RegisteredUsers:
    """The registration source of the scheduler's reconciler: Kamailio's location table."""
    registrations = SipRegistrations(sessions)
    return lambda: set(registrations.registered_users(clock()))
