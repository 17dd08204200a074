"""The wallboard's read model (issue 13): the live queue, the agents, and today's call figures.

Read-only, reached as ``Services.queue_reads`` so the web package holds no SQL. "Today" is the
Bangkok day (``ticketing.timeutil``); a call counts on the day it entered the queue. The figures
follow the definitions the wallboard shows next to each tile:

* SL = answered within T / answered (Asterisk ``servicelevel``);
* SL2 = (answered within T + abandoned within T) / (answered + abandoned) (Asterisk SL2);
* abandonment = abandoned in queue / entered the queue (Amazon Connect);
* ASA = the average wait of answered calls; AHT = talk + hold + wrap-up, averaged over the
  answered calls whose conversation has ended;
* occupancy = handle time / (handle + idle), from the agents' state history: on a call and
  wrap-up are handling, available and ringing are idle (waiting for work); break and offline
  count as neither (refreshed every 10 s: a day's history is the largest read).

T is ``HOTLINE_SL_SECONDS`` (``Settings.queue.sl_seconds``, default 20).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.actors import Actor
from ticketing.errors import DomainError
from ticketing.live_queue import LiveQueue, QueueSnapshot
from ticketing.masking import mask_digits
from ticketing.models import AgentStateChange, Call, Ticket
from ticketing.node_liveness import NodeLiveness
from ticketing.presence import AgentState
from ticketing.presence_store import PresenceStore
from ticketing.queue_scope import AgentScopes
from ticketing.serialize import iso
from ticketing.timeutil import as_utc, bangkok_day_start, utcnow

if TYPE_CHECKING:  # at run time they come in through the container (import order: models first)
    from ticketing.call_queue import CallQueueRecords
    from ticketing.callbacks import CallbackService

log = logging.getLogger(__name__)

# A burst of events makes every open wallboard reload at once; they share one computation.
# Below the page's reload delay (wallboard.js: 250 ms after an event), so a reload always sees
# figures computed after the event that caused it.
CACHE_SECONDS = 0.2
HISTORY_SECONDS = 10.0  # occupancy and per-agent handle / idle time: refreshed this often
STALE_CALL = timedelta(hours=2)  # an open call older than this is a crashed node's leftover
HANDLING = frozenset({AgentState.ON_CALL.value, AgentState.WRAP_UP.value})
IDLE = frozenset({AgentState.AVAILABLE.value, AgentState.RINGING.value})
# The wallboard's figures of the one national queue: the same for every viewer, labelled so.
CENTRE_WIDE = (
    "callers_waiting",
    "callbacks_waiting",
    "oldest_wait_seconds",
    "holdtime_seconds",
    "calls_in_ivr",
    "nodes_alive",
)


StateTime = dict[str, dict[str, float]]  # agent -> state -> seconds today


@dataclass(frozen=True)
class QueuedCall:
    """One call that entered the queue today (the facts the figures are made of)."""

    agent: str | None
    answered: bool
    outcome: str | None
    wait_seconds: float | None
    handle_seconds: float | None  # talk + hold + wrap-up, once the conversation ended
    province_code: str | None = None  # the call's draft's province (None: not known yet)


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def today_figures(calls: list[QueuedCall], sl_seconds: float) -> dict[str, Any]:
    """The day's queue figures from its calls (pure: the definitions in the module text)."""
    answered = [c for c in calls if c.answered]
    abandoned = [c for c in calls if c.outcome == "abandoned_in_queue"]

    def within(group: list[QueuedCall]) -> int:
        return sum(1 for c in group if c.wait_seconds is not None and c.wait_seconds <= sl_seconds)

    answered_within, abandoned_within = within(answered), within(abandoned)
    handled = [c.handle_seconds for c in answered if c.handle_seconds is not None]
    return {
        "entered": len(calls),
        "answered": len(answered),
        "abandoned": len(abandoned),
        "callbacks_requested": sum(1 for c in calls if c.outcome == "callback_requested"),
        "answered_within_sl": answered_within,
        "abandoned_within_sl": abandoned_within,
        "service_level": _ratio(answered_within, len(answered)),
        "service_level_2": _ratio(
            answered_within + abandoned_within, len(answered) + len(abandoned)
        ),
        "abandonment_rate": _ratio(len(abandoned), len(calls)),
        "asa_seconds": _mean([c.wait_seconds for c in answered if c.wait_seconds is not None]),
        "aht_seconds": _mean(handled),
    }


def state_time(
    rows: Sequence[tuple[str, str, str, datetime]], start: datetime, now: datetime
) -> dict[str, dict[str, float]]:
    """Seconds each agent spent in each state between ``start`` and ``now``, from their history
    rows ``(username, state, previous, at)`` in time order (the state before the first row of
    the day is that row's ``previous``)."""
    spent: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    current: dict[str, tuple[str, datetime]] = {}
    for username, state, previous, at in rows:
        moment = max(as_utc(at), start)
        was, since = current.get(username, (previous, start))
        spent[username][was] += max(0.0, (moment - since).total_seconds())
        current[username] = (state, moment)
    for username, (state, since) in current.items():
        spent[username][state] += max(0.0, (now - since).total_seconds())
    return {name: dict(states) for name, states in spent.items()}


def occupancy(states: dict[str, float]) -> float | None:
    handle = sum(v for k, v in states.items() if k in HANDLING)
    idle = sum(v for k, v in states.items() if k in IDLE)
    return _ratio(handle, handle + idle)


class QueueReads:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        live_queue: LiveQueue,
        presence: PresenceStore,
        call_records: CallQueueRecords,
        callbacks: CallbackService,
        *,
        sl_seconds: float = 20.0,
        liveness: NodeLiveness | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._liveness = liveness
        self._queue = live_queue
        self._presence = presence
        self._records = call_records
        self._callbacks = callbacks
        self.sl_seconds = sl_seconds
        self._clock = clock
        self.cache_seconds = CACHE_SECONDS
        self.history_seconds = HISTORY_SECONDS
        self._cached: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        self.scopes = AgentScopes(sessions)
        self._history: tuple[datetime, datetime, StateTime] | None = None
        self._lock = threading.Lock()

    # --- the wallboard ---------------------------------------------------------------------------
    def wallboard(self, actor: Actor | None = None) -> dict[str, Any]:
        """The figures, computed at most once per :data:`CACHE_SECONDS` in a process for each
        scope: every supervisor's page reloads on the same events, and they share the one
        answer. A province-scoped viewer sees their agents and calls, and the one national
        queue labelled centre-wide (``ticketing.queue_scope``)."""
        provinces = tuple(sorted(actor.provinces)) if actor is not None and actor.scoped else ()
        with self._lock:
            cached = self._cached.get(provinces)
            if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
                return cached[1]
            figures = self._wallboard(provinces)
            self._cached[provinces] = (time.monotonic(), figures)
            return figures

    def _wallboard(self, provinces: tuple[str, ...]) -> dict[str, Any]:
        now = self._clock()
        start = bangkok_day_start(now)
        live = self._live(now)
        visible = self.scopes.visible(provinces)
        with self._sessions() as session:
            calls = self._queued_today(session, start)
            open_calls, bridged_agents = self._open_calls(session, now)
            spent = self._state_time(session, start, now)
        waiting = live["callers_waiting"] or 0
        centre_ivr = max(0, open_calls - len(bridged_agents) - waiting)
        if visible is not None:
            calls = [c for c in calls if c.agent in visible or c.province_code in provinces]
            bridged_agents = [a for a in bridged_agents if a in visible]
            spent = {k: v for k, v in spent.items() if k in visible}
            live["agents"] = {k: v for k, v in live["agents"].items() if k in visible}
            live["agents_by_state"] = {state.value: 0 for state in AgentState}
            for agent in live["agents"].values():
                live["agents_by_state"][agent["state"]] += 1
        today = today_figures(calls, self.sl_seconds)
        nodes = live.pop("nodes")
        return {
            "generated_at": now.isoformat(),
            "sl_seconds": self.sl_seconds,
            "scope": {"provinces": list(provinces), "centre_wide": list(CENTRE_WIDE)},
            "nodes_alive": None if nodes is None else sum(1 for up in nodes.values() if up),
            "nodes_stopped": None
            if nodes is None
            else sorted(n for n, up in nodes.items() if not up),
            **live,
            "calls_in_ivr": centre_ivr,
            "calls_with_agents": len(bridged_agents),
            "today": {**today, "occupancy": occupancy(_summed(spent.values()))},
            "agents": self._per_agent(calls, spent, live["agents"]),
        }

    def _state_time(self, session: Session, start: datetime, now: datetime) -> StateTime:
        """Today's time in states per agent, read again at most every :data:`HISTORY_SECONDS`
        (a day's history is the wallboard's largest read; the ratios it gives move slowly)."""
        cached = self._history
        if (
            cached is not None
            and cached[0] == start
            and (now - cached[1]).total_seconds() < self.history_seconds
        ):
            return cached[2]
        rows = session.execute(
            select(
                AgentStateChange.username,
                AgentStateChange.state,
                AgentStateChange.previous,
                AgentStateChange.at,
            )
            .where(AgentStateChange.at >= start)
            .order_by(AgentStateChange.at, AgentStateChange.id)
        ).all()
        spent = state_time(rows, start, now)
        self._history = (start, now, spent)
        return spent

    def metric_facts(self) -> tuple[dict[str, Any], list[QueuedCall]]:
        """For ``/metrics``: the live queue now and the calls that entered it today."""
        now = self._clock()
        live = self._live(now)
        with self._sessions() as session:
            calls = self._queued_today(session, bangkok_day_start(now))
        return live, calls

    def _live(self, now: datetime) -> dict[str, Any]:
        """What is in Redis now: the queue and the agents (None where Redis does not answer)."""
        out: dict[str, Any] = {"live_unavailable": False}
        try:
            snap: QueueSnapshot | None = self._queue.snapshot()
        except DomainError as exc:
            log.warning("wallboard: live queue unavailable: %s", exc)
            snap, out["live_unavailable"] = None, True
        out["callers_waiting"] = snap.callers_waiting if snap else None
        out["callbacks_waiting"] = snap.callbacks_waiting if snap else None
        out["oldest_wait_seconds"] = snap.oldest_wait_seconds if snap else None
        out["holdtime_seconds"] = snap.holdtime_seconds if snap else None
        try:
            presences = self._presence.all()
        except DomainError as exc:
            log.warning("wallboard: presence unavailable: %s", exc)
            presences, out["live_unavailable"] = [], True
        by_state = {state.value: 0 for state in AgentState}
        agents: dict[str, dict[str, Any]] = {}
        for p in presences:
            by_state[p.state.value] += 1
            agents[p.username] = {
                "state": p.state.value,
                "since": iso(p.since),
                "reason": p.reason,
                "call_id": p.call_id,
            }
        out["agents_by_state"] = by_state
        out["agents"] = agents
        out["nodes"] = self._nodes()
        return out

    def _nodes(self) -> dict[str, bool] | None:
        """The IVR nodes seen beating -> alive (None: unknown, Redis does not answer)."""
        if self._liveness is None:
            return {}
        try:
            return self._liveness.nodes()
        except DomainError as exc:
            log.warning("wallboard: node heartbeats unavailable: %s", exc)
            return None

    @staticmethod
    def _queued_today(session: Session, start: datetime) -> list[QueuedCall]:
        drafts = dict(
            session.execute(
                select(Ticket.call_id, Ticket.province_code)
                .join(Call, Call.id == Ticket.call_id)
                .where(Call.queue_entered_at >= start)
            ).all()
        )
        rows = session.execute(
            select(
                Call.id,
                Call.agent_username,
                Call.agent_answered_at,
                Call.outcome,
                Call.wait_seconds,
                Call.talk_seconds,
                Call.hold_seconds,
                Call.wrapup_seconds,
            ).where(Call.queue_entered_at >= start)
        ).all()
        return [
            QueuedCall(
                agent=agent,
                answered=answered_at is not None,
                outcome=outcome,
                wait_seconds=wait,
                handle_seconds=(
                    None if talk is None else round(talk + (hold or 0.0) + (wrap or 0.0), 3)
                ),
                province_code=drafts.get(call_id),
            )
            for call_id, agent, answered_at, outcome, wait, talk, hold, wrap in rows
        ]

    @staticmethod
    def _open_calls(session: Session, now: datetime) -> tuple[int, list[str]]:
        """Calls not ended (and not a crashed node's leftovers), and the agents of those with
        an agent."""
        base = (Call.ended_at.is_(None), Call.started_at >= now - STALE_CALL)
        total = session.scalar(select(func.count()).select_from(Call).where(*base)) or 0
        bridged = session.scalars(
            select(Call.agent_username).where(*base, Call.agent_answered_at.is_not(None))
        ).all()
        return int(total), [a or "" for a in bridged]

    def _per_agent(
        self,
        calls: list[QueuedCall],
        spent: dict[str, dict[str, float]],
        live: dict[str, dict[str, Any]],
    ) -> list[dict[str, Any]]:
        answered: dict[str, list[QueuedCall]] = defaultdict(list)
        for call in calls:
            if call.agent and call.answered:
                answered[call.agent].append(call)
        names = sorted(set(live) | set(spent) | set(answered))
        rows = []
        for name in names:
            mine = answered.get(name, [])
            handled = [c.handle_seconds for c in mine if c.handle_seconds is not None]
            states = spent.get(name, {})
            rows.append(
                {
                    "username": name,
                    "state": live.get(name, {}).get("state", AgentState.OFFLINE.value),
                    "since": live.get(name, {}).get("since"),
                    "reason": live.get(name, {}).get("reason"),
                    "call_id": live.get(name, {}).get("call_id"),  # the wallboard's "listen"
                    "answered": len(mine),
                    "aht_seconds": _mean(handled),
                    "handle_seconds": round(sum(v for k, v in states.items() if k in HANDLING)),
                    "idle_seconds": round(sum(v for k, v in states.items() if k in IDLE)),
                    "occupancy": occupancy(states),
                }
            )
        return rows

    def call_agent(self, call_id: str) -> str | None:
        """The call-taker who answered the call (None: no one, or no such call)."""
        with self._sessions() as session:
            return session.scalar(select(Call.agent_username).where(Call.id == call_id))

    # --- lists -----------------------------------------------------------------------------------
    def calls(self, actor: Actor, limit: int = 50) -> list[dict[str, Any]]:
        """``GET /api/v1/calls``: newest first; a call-taker sees only the calls they took, a
        province-scoped supervisor the calls of their agents or of drafts in their provinces
        (``ticketing.queue_scope``); the caller's number masked for roles that see it masked."""
        own = actor.name if actor.role == "agent" else None
        visible = None if own else self.scopes.visible(actor.provinces if actor.scoped else ())
        scope = None if visible is None else (visible, actor.provinces)
        rows = self._records.recent_calls(limit=limit, agent=own, scope=scope)
        full = actor.sees_personal_data
        return [
            {
                "id": r["id"],
                "caller": r["caller_number"] if full else mask_digits(r["caller_number"]),
                "started_at": iso(r["started_at"]),
                "queue_entered_at": iso(r["queue_entered_at"]),
                "answered_at": iso(r["answered_at"]),
                "agent": r["agent"],
                "wait_seconds": r["wait_seconds"],
                "talk_seconds": r["talk_seconds"],
                "outcome": r["outcome"],
                "ticket_reference": r["ticket_reference"],
            }
            for r in rows
        ]

    def callbacks(self, actor: Actor, limit: int = 100) -> list[dict[str, Any]]:
        """The callback requests still to do (pending, being dialled) and today's finished ones,
        in the callers' order in line; the number masked for roles that see numbers masked."""
        since = bangkok_day_start(self._clock())
        active = self._callbacks.requests(states=("pending", "offered", "dialling"), limit=limit)
        done = [
            c
            for c in self._callbacks.requests(states=("done", "failed"), limit=limit)
            if c["updated_at"] >= since
        ]
        full = actor.sees_personal_data
        return [
            {
                **{k: v for k, v in c.items() if k != "number"},
                "number": c["number"] if full else mask_digits(c["number"]),
                "requested_at": iso(c["requested_at"]),
                "queue_position_at": iso(c["queue_position_at"]),
                "updated_at": iso(c["updated_at"]),
            }
            for c in active + done
        ]


def _summed(groups: Any) -> dict[str, float]:
    total: dict[str, float] = defaultdict(float)
    for states in groups:
        for state, seconds in states.items():
            total[state] += seconds
    return dict(total)
