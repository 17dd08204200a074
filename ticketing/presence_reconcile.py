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

* **node heartbeats**, when a :class:`~ticketing.node_liveness.NodeLiveness` is given: a call
  held by a node that was seen beating and whose heartbeat ran out is over. The agent leaves
  ringing / on a call ("reconciled: node <id> stopped"); every open call of that node is closed
  (end reason ``node_stopped``, outcome ``error``: the system failed the call, also when an
  agent had answered it — ``agent_answered_at`` stays, so the day's answered count and ASA still
  count it); the callers that node held in the queue are taken out of it. A node never seen
  beating is not judged; when Redis cannot be read, no node is judged stopped. The node's
  recordings are finalised when it starts again (:meth:`ticketing.calls.CallService.
  open_calls_of_node` finds them): only that host has the files.

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
from ticketing.calls import CallService
from ticketing.errors import DomainError
from ticketing.live_queue import LiveQueue
from ticketing.models import Call
from ticketing.node_liveness import NodeLiveness
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
    node: str = ""


class PresenceReconciler:
    def __init__(
        self,
        presence: AgentPresenceService,
        sessions: sessionmaker[Session],
        *,
        registered_users: RegisteredUsers | None = None,
        ring_seconds: float | None = None,
        registration_grace_seconds: float = 0.0,
        liveness: NodeLiveness | None = None,
        calls: CallService | None = None,
        live_queue: LiveQueue | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._presence = presence
        self._sessions = sessions
        self._registered = registered_users
        self._liveness = liveness
        self._call_service = calls
        self._live_queue = live_queue
        self._ring_seconds = (
            ring_seconds
            if ring_seconds is not None
            else float(presence.store.config.no_answer_seconds)
        )
        self._clock = clock
        self._grace = timedelta(seconds=registration_grace_seconds)

    def run(self, fence: object = None) -> int:
        """One pass over every agent; returns how many were corrected."""
        agents = self._presence.store.all()
        registered = self._registrations()
        stopped = self._stopped_nodes()
        facts = self._calls({p.call_id for p in agents if p.call_id and p.state in IN_CALL})
        corrected = 0
        started = self._clock()
        for before in agents:
            fact = facts.get(before.call_id or "")
            node_stopped = fact is not None and fact.node in stopped and not fact.ended
            in_call = not node_stopped and self._in_call(before, facts)
            phone = registered is None or before.username in registered
            stuck = before.state in IN_CALL and not in_call
            gone = (
                not phone
                and not in_call
                and before.state is not AgentState.OFFLINE
                # a REGISTER just made may not be in the table yet (usrloc's write-back)
                and (before.since is None or started - before.since >= self._grace)
            )
            if not (stuck or gone):
                continue
            now = self._clock()

            why = f"node {fact.node} stopped" if node_stopped and fact else None

            def correct(
                m: AgentPresence,
                t: datetime = now,
                i: bool = in_call,
                r: bool = phone,
                w: str | None = why,
            ) -> None:
                _reconcile(m, t, i, r, w)

            after = self._presence.apply(before.username, correct)
            if after.state is not before.state:
                corrected += 1
                log.warning(
                    "presence reconciled: agent %s %s -> %s (call %s: %s; phone %s)",
                    before.username,
                    before.state,
                    after.state,
                    before.call_id or "-",
                    "in progress" if in_call else why or "gone",
                    "registered" if phone else "not registered",
                )
        if stopped:
            self._end_calls_of(stopped)
        return corrected

    def _stopped_nodes(self) -> set[str]:
        """The nodes whose heartbeat ran out; none when not judged (no source, Redis down)."""
        if self._liveness is None:
            return set()
        try:
            return self._liveness.stopped()
        except DomainError as exc:
            log.warning("presence reconciler: node heartbeats unreadable; not judged: %s", exc)
            return set()

    def _end_calls_of(self, nodes: set[str]) -> None:
        """Every open call of a stopped node ends (outcome error); its waiting callers leave the
        queue. One call failing to close is logged and the others still closed."""
        with self._sessions() as session:
            open_calls = session.execute(
                select(Call.id, Call.node).where(
                    Call.node.in_(sorted(nodes)), Call.ended_at.is_(None)
                )
            ).all()
        for call_id, node in open_calls:
            if self._call_service is None:
                break
            try:
                self._call_service.end_call(
                    call_id, "node_stopped", abandoned=False, outcome="error"
                )
                log.warning("call %s ended: its IVR node %s stopped beating", call_id, node)
            except Exception:
                log.exception("call %s: closing it after node %s stopped failed", call_id, node)
        if self._live_queue is None:
            return
        try:
            for entry in self._live_queue.snapshot().entries:
                if entry.kind == "caller" and entry.node in nodes:
                    self._live_queue.leave(entry.entry_id)
                    log.warning(
                        "queue entry %s dropped: node %s stopped", entry.entry_id, entry.node
                    )
        except DomainError as exc:
            log.warning("presence reconciler: queue of stopped nodes not cleared: %s", exc)

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
                select(
                    Call.id, Call.ended_at, Call.agent_username, Call.started_at, Call.node
                ).where(Call.id.in_(sorted(call_ids)))
            ).all()
            return {
                call_id: CallFact(ended is not None, agent, as_utc(started), node or "")
                for call_id, ended, agent, started, node in rows
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


def _reconcile(
    machine: AgentPresence,
    now: datetime,
    in_call: bool,
    registered: bool,
    node_stopped: str | None = None,
) -> None:
    """The machine's own reconcile, with every correction it makes marked "reconciled" (the
    first one "reconciled: node <id> stopped" when the call's node stopped beating)."""
    first = len(machine.changes)
    was = machine.state
    machine.reconcile(now, registered=registered, call_in_progress=in_call)
    for index in range(first, len(machine.changes)):
        change = machine.changes[index]
        if node_stopped is not None and index == first and was in IN_CALL:
            machine.changes[index] = replace(change, why=f"reconciled: {node_stopped}")
        elif not change.why.startswith("reconciled"):
            why = f"reconciled: {change.why} (the call is gone: lost BYE or node down)"
            machine.changes[index] = replace(change, why=why)


def phone_registrations(
    sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
) -> RegisteredUsers:
    """The registration source of the scheduler's reconciler: Kamailio's location table."""
    registrations = SipRegistrations(sessions)
    return lambda: set(registrations.registered_users(clock()))
