"""Who is answered next and by whom, and the queue's figures: pure functions, no I/O.

* Order: urgent first, then repeat callers (an earlier ticket still open), then first come
  first served. A callback request keeps the caller's ``entered_at``, so it is offered to an
  agent when the caller would have been, not after everyone who stayed on the line.
* Agent: the longest-idle available agent (Asterisk ``strategy=leastrecent``, FreeSWITCH
  ``longest-idle-agent``); busy or unreachable phones and agents already tried are skipped.
* Wait estimate: Asterisk's holdtime habit, an exponential average of recent answered waits.
* Service levels (DOMAIN.md): SL = answered within T / answered; SL2 = (answered within T +
  abandoned within T) / (answered + abandoned); abandonment = abandoned in queue / queued;
  ASA = average wait of answered calls; AHT = talk + hold + wrap-up. "Within T" is ``<= T``,
  as Asterisk counts it. Each figure is None when there is nothing to divide by.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum

from ivr.queue.presence import AgentState, Presence

DEFAULT_NO_ANSWER_SECONDS = 15
HOLDTIME_WEIGHT = 0.25  # Asterisk: holdtime = (3 * holdtime + new) / 4


class Priority(IntEnum):
    URGENT = 0
    REPEAT_CALLER = 1
    NORMAL = 2


@dataclass(frozen=True)
class QueueEntry:
    call_id: str
    entered_at: datetime
    urgent: bool = False
    repeat_caller: bool = False
    callback: bool = False  # a callback request: no caller on the line, same place in line

    @property
    def priority(self) -> Priority:
        if self.urgent:
            return Priority.URGENT
        return Priority.REPEAT_CALLER if self.repeat_caller else Priority.NORMAL


def queue_order(entries: Iterable[QueueEntry]) -> list[QueueEntry]:
    return sorted(entries, key=lambda e: (e.priority, e.entered_at, e.call_id))


def next_entry(entries: Iterable[QueueEntry]) -> QueueEntry | None:
    ordered = queue_order(entries)
    return ordered[0] if ordered else None


def position(entries: Iterable[QueueEntry], call_id: str) -> int | None:
    """1 for the next caller to be offered; None when the call is not queued."""
    for index, entry in enumerate(queue_order(entries), start=1):
        if entry.call_id == call_id:
            return index
    return None


class PhoneStatus(StrEnum):
    REACHABLE = "reachable"
    BUSY = "busy"  # the phone answered 486 / 600 to an earlier offer, or is in another call
    UNREACHABLE = "unreachable"  # no registration, or 408 / 480 / 503


@dataclass(frozen=True)
class AgentCandidate:
    username: str
    state: AgentState
    since: datetime | None = None
    last_call_ended_at: datetime | None = None
    phone: PhoneStatus = PhoneStatus.REACHABLE


def candidates(
    presences: Iterable[Presence], phones: Mapping[str, PhoneStatus]
) -> list[AgentCandidate]:
    """The store's presences as candidates; an agent whose phone is not listed is unreachable."""
    return [
        AgentCandidate(
            p.username,
            p.state,
            p.since,
            p.last_call_ended_at,
            phones.get(p.username, PhoneStatus.UNREACHABLE),
        )
        for p in presences
    ]


def _idle_key(c: AgentCandidate) -> tuple[bool, datetime, bool, datetime, str]:
    """Never called before all others; then the oldest last call; then longest available."""
    ended, since = c.last_call_ended_at, c.since
    return (ended is not None, ended or _EPOCH, since is not None, since or _EPOCH, c.username)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def choose_agent(
    candidates: Iterable[AgentCandidate], tried: Collection[str] = (), leave: int = 0
) -> AgentCandidate | None:
    """The available agent whose last call ended longest ago (never called: first); ``leave``:
    the first that many are left to the callers ahead still choosing (None if no more)."""
    eligible = [
        c
        for c in candidates
        if c.state is AgentState.AVAILABLE
        and c.phone is PhoneStatus.REACHABLE
        and c.username not in tried
    ]
    return sorted(eligible, key=_idle_key)[leave] if len(eligible) > leave else None


def ring_timed_out(
    rang_at: datetime, now: datetime, no_answer_seconds: int = DEFAULT_NO_ANSWER_SECONDS
) -> bool:
    """True once the phone has rung ``no_answer_seconds``: offer the caller to the next agent."""
    return (now - rang_at).total_seconds() >= no_answer_seconds


def update_holdtime(
    holdtime: float | None, answered_wait: float, weight: float = HOLDTIME_WEIGHT
) -> float:
    """The queue's average hold time after one more answered call."""
    if answered_wait < 0:
        raise ValueError("a wait cannot be negative")
    if holdtime is None:
        return float(answered_wait)
    return (1 - weight) * holdtime + weight * answered_wait


def estimated_wait(holdtime: float | None, waited: float) -> float | None:
    """Seconds still to wait, as Asterisk announces it; None (say nothing) when unknown."""
    if holdtime is None:
        return None
    return max(0.0, holdtime - waited)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def service_level(answered_waits: Sequence[float], threshold: float) -> float | None:
    """SL: answered within T / answered."""
    return _share(sum(1 for w in answered_waits if w <= threshold), len(answered_waits))


def service_level_2(
    answered_waits: Sequence[float], abandoned_waits: Sequence[float], threshold: float
) -> float | None:
    """SL2: (answered within T + abandoned within T) / (answered + abandoned)."""
    within = sum(1 for w in (*answered_waits, *abandoned_waits) if w <= threshold)
    return _share(within, len(answered_waits) + len(abandoned_waits))


def abandonment_rate(abandoned_in_queue: int, entered_queue: int) -> float | None:
    if abandoned_in_queue > entered_queue:
        raise ValueError("more calls abandoned than entered the queue")
    return _share(abandoned_in_queue, entered_queue)


def average_speed_of_answer(answered_waits: Sequence[float]) -> float | None:
    """ASA: the mean wait of answered calls (abandoned calls do not count)."""
    return sum(answered_waits) / len(answered_waits) if answered_waits else None


@dataclass(frozen=True)
class Handle:
    talk: float
    hold: float = 0.0
    wrap_up: float = 0.0


def average_handle_time(handles: Sequence[Handle]) -> float | None:
    """AHT: mean of talk + hold + wrap-up per answered call."""
    if not handles:
        return None
    return sum(h.talk + h.hold + h.wrap_up for h in handles) / len(handles)
