"""Call-takers' presence as a service: the machine's events applied to the live store, each
change written to the history table with its ``agent.state`` event (one transaction, the
outbox), and the ``hotline_agents{state}`` gauge kept current.

The live store (Redis) is the truth for routing calls; the history is the record for reports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from prometheus_client import Gauge
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.call_queue_model import Call
from ticketing.errors import DomainError, NotFound, PermissionDenied
from ticketing.events import Kick, record_event
from ticketing.models import AgentStateChange, Role, User
from ticketing.presence import AgentPresence, AgentState, Change, Presence
from ticketing.presence_store import PresenceStore
from ticketing.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

AGENTS = Gauge("hotline_agents", "Call-takers by presence state.", ["state"])


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def presence_view(presence: Presence) -> dict[str, Any]:
    return {
        "username": presence.username,
        "state": presence.state.value,
        "since": _iso(presence.since),
        "reason": presence.reason,
        "call_id": presence.call_id,
        "wrap_up_until": _iso(presence.wrap_up_until),
    }


class AgentPresenceService:
    def __init__(
        self,
        store: PresenceStore,
        sessions: sessionmaker[Session],
        *,
        after_commit: Kick | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self._sessions = sessions
        self._after_commit = after_commit
        self._clock = clock

    # --- the agent's own requests (the console) ------------------------------------------------
    def request_state(
        self, username: str, role: str, state: AgentState, reason: str | None = None
    ) -> dict[str, Any]:
        if role != Role.AGENT:
            raise PermissionDenied("only call-takers have a presence state")
        now = self._clock()
        return presence_view(self.apply(username, lambda m: m.request(state, now, reason)))

    def sign_out(self, username: str) -> None:
        """Signing out of the console makes a call-taker offline; never blocks the sign-out."""
        now = self._clock()
        try:
            self.apply(
                username,
                lambda m: (
                    None if m.state is AgentState.OFFLINE else m.request(AgentState.OFFLINE, now)
                ),
            )
        except DomainError as exc:
            log.warning("agent %s signed out but presence not updated: %s", username, exc)

    def current(self, username: str) -> dict[str, Any]:
        """One agent's presence as shown (never seen: offline)."""
        return presence_view(self.store.get(username))

    # --- what the IVR node reports -------------------------------------------------------------
    def ring(self, username: str, call_id: str) -> Presence:
        now = self._clock()
        return self.apply(username, lambda m: m.ring(call_id, now))

    def ringing_for(self, username: str, call_id: str) -> bool:
        """Whether the agent's phone is ringing for this call (a ring whose reply was lost)."""
        try:
            presence = self.store.get(username)
        except DomainError:
            return False
        return presence.state is AgentState.RINGING and presence.call_id == call_id

    def answer(self, username: str) -> Presence:
        now = self._clock()
        return self.apply(username, lambda m: m.answer(now))

    def no_answer(self, username: str) -> Presence:
        now = self._clock()
        return self.apply(username, lambda m: m.no_answer(now))

    def ring_cancelled(self, username: str) -> Presence:
        now = self._clock()
        return self.apply(username, lambda m: m.ring_cancelled(now))

    def hang_up(self, username: str) -> Presence:
        now = self._clock()
        return self.apply(username, lambda m: m.hang_up(now))

    def reconcile(self, username: str, *, registered: bool, call_in_progress: bool) -> Presence:
        now = self._clock()
        return self.apply(
            username,
            lambda m: m.reconcile(now, registered=registered, call_in_progress=call_in_progress),
        )

    def reconcile_all(self, registered: set[str], in_call: set[str]) -> int:
        """Reconcile every known agent against the registrar's contacts (``registered``) and
        the calls the nodes really hold (``in_call``: user names); returns how many changed."""
        changed = 0
        for presence in self.store.all():
            name = presence.username
            after = self.reconcile(
                name, registered=name in registered, call_in_progress=name in in_call
            )
            changed += after.state != presence.state
        return changed

    def tick_all(self) -> int:
        """End every wrap-up whose time is over; returns how many agents changed."""
        now = self._clock()
        changed = 0
        for presence in self.store.all():
            if presence.state is AgentState.WRAP_UP:
                before = presence.state
                changed += self.apply(presence.username, lambda m: m.tick(now)).state != before
        return changed

    def apply(self, username: str, event: Callable[[AgentPresence], object]) -> Presence:
        presence, changes = self.store.apply(username, event)
        if changes:
            try:
                self._record(changes)
            except Exception as exc:
                # The live state (Redis) has changed: the history row must not undo the step
                # for its caller. A queue dispatcher that raised here after ``ring`` died and
                # left its agent "ringing" and its caller unserved (the queue benchmark at 300
                # calls on SQLite: pool timeouts).
                log.error(
                    "agent %s: state %s not written to the history: %s: %s",
                    username, presence.state.value, type(exc).__name__, exc,
                )  # fmt: skip
            self.refresh_gauge()
        return presence

    def _record(self, changes: list[Change]) -> None:
        with self._sessions.begin() as session:
            for change in changes:
                p = change.presence
                session.add(
                    AgentStateChange(
                        username=p.username,
                        state=p.state.value,
                        previous=change.previous.value,
                        reason=p.reason,
                        call_id=p.call_id,
                        why=change.why[:200],
                        at=p.since or self._clock(),
                    )
                )
                record_event(
                    session,
                    "agent.state",
                    {**presence_view(p), "previous": change.previous.value, "why": change.why},
                )
                if change.previous is AgentState.WRAP_UP and p.state is not AgentState.WRAP_UP:
                    self._measure_wrap_up(session, p)
        if self._after_commit is not None:
            self._after_commit()

    def _measure_wrap_up(self, session: Session, left: Presence) -> None:
        """The wrap-up just left (the agent ended it early, its timer ran out, or reconcile):
        its real length replaces the configured one on its call's record, so AHT counts it."""
        began = session.scalars(
            select(AgentStateChange)
            .where(
                AgentStateChange.username == left.username,
                AgentStateChange.state == AgentState.WRAP_UP.value,
            )
            .order_by(AgentStateChange.at.desc(), AgentStateChange.id.desc())
            .limit(1)
        ).first()
        call = session.get(Call, began.call_id) if began and began.call_id else None
        if began is None or call is None:
            return
        ended = as_utc(left.since or self._clock())
        call.wrapup_seconds = round(max(0.0, (ended - as_utc(began.at)).total_seconds()), 3)

    def refresh_gauge(self) -> None:
        for state, count in self.store.counts().items():
            AGENTS.labels(state=state).set(count)

    # --- the supervisors' list -----------------------------------------------------------------
    def list_agents(self, provinces: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Every active call-taker with their presence (never seen: offline).

        A supervisor scoped to ``provinces`` sees the agents who work any of them, and those
        who work every province."""
        with self._sessions() as session:
            rows = session.execute(
                select(User.username, User.display_name, User.provinces)
                .where(User.role == Role.AGENT, User.active.is_(True))
                .order_by(User.username)
            ).all()
        users = [
            (name, display)
            for name, display, own in rows
            if not provinces or not own or set(own) & set(provinces)
        ]
        live = {p.username: p for p in self.store.all()}
        return [
            {
                **presence_view(live.get(name) or Presence(name)),
                "display_name": display or name,
            }
            for name, display in users
        ]

    def history(self, username: str, limit: int = 100) -> list[dict[str, Any]]:
        with self._sessions() as session:
            if session.scalar(select(User.id).where(User.username == username)) is None:
                raise NotFound(f"no user {username!r}")
            rows = session.scalars(
                select(AgentStateChange)
                .where(AgentStateChange.username == username)
                .order_by(AgentStateChange.id.desc())
                .limit(limit)
            )
            return [
                {
                    "state": r.state,
                    "previous": r.previous,
                    "reason": r.reason,
                    "call_id": r.call_id,
                    "why": r.why,
                    "at": _iso(r.at),
                }
                for r in rows
            ]
