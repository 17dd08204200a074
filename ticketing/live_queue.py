"""The callers waiting for a call-taker, in Redis, so every IVR node and web process sees one queue.

Keys (the ``{queue}`` hash tag puts them in one Redis Cluster slot, so the claim script is legal
there too):

* ``hotline:{queue}:order`` — sorted set of entry ids; the score encodes the order: the band
  (0 put back at the head, 1 urgent, 2 repeat caller, 3 normal) then the time the caller entered
  the queue, so ``ZRANGE`` is the queue in order and ties fall back to the id.
* ``hotline:{queue}:entry:<id>`` — the entry's fields (call, kind, masked caller, node, ...).
* ``hotline:{queue}:alive`` — sorted set id -> until (ms): the caller's session renews it while
  it waits; an entry whose node died drops out of the queue when it runs out (never a ghost
  caller at the head). Callback requests have no session: they are alive until taken out.
* ``hotline:{queue}:offers`` — hash id -> ``token|until_ms`` (``|r`` once a phone rings for it):
  the entry is being offered to an agent by the holder of the token until then.
* ``hotline:{queue}:holdtime`` — the exponential average of recent answered waits (seconds).

The claim (:meth:`LiveQueue.claim_head`) is one Lua script: "this entry is the first one alive
and not already being offered" -> it becomes offered to the caller's token. Which agent rings is
then the presence machine's own atomic step (:meth:`ticketing.agents.AgentPresenceService.ring`,
WATCH/MULTI on the agent's hash), not a copy of its rules in Lua: the presence keys live in the
``{agents}`` slot, and a script may not touch two slots. Two nodes can therefore never offer one
entry twice, nor ring one agent for two entries (the second ``ring`` is refused by the machine).
Order holds while several offers run: a winner with k offers ahead still choosing leaves them the
k longest-idle agents free (:meth:`LiveQueue.claim`).

Redis errors leave as :class:`~ticketing.errors.BusUnavailable`. Entries carry no phone number,
only ``caller_masked``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

import redis

from ticketing.errors import BusUnavailable, InvalidInput

PREFIX = "hotline:{queue}"
ORDER_KEY = PREFIX + ":order"
ALIVE_KEY = PREFIX + ":alive"
OFFERS_KEY = PREFIX + ":offers"
HOLDTIME_KEY = PREFIX + ":holdtime"
PLACE_CAP = 10  # a lost claim counts at most this many entries ahead
_OFFER = re.compile(r"\|(\d+)(?:\|r)?$")  # an offers-hash value's until_ms (and ringing mark)
FOREVER_MS = 2**52  # alive "until" of entries with no session (callback requests)

Kind = Literal["caller", "callback"]
PRIORITIES = ("urgent", "repeat", "normal")
_BAND = {"head": 0, "urgent": 1, "repeat": 2, "normal": 3}
_BAND_MS = 10**13  # > any epoch milliseconds until the year 2286


def entry_key(entry_id: str) -> str:
    return f"{PREFIX}:entry:{entry_id}"


@dataclass(frozen=True)
class QueueEntry:
    call_id: str  # the call that queued (for a callback request: the call it was left on)
    priority: str  # urgent | repeat | normal
    entered_at: datetime  # when the caller joined the queue (a callback keeps it)
    kind: Kind = "caller"
    caller_masked: str | None = None
    node: str = ""  # the IVR node holding the caller's leg ("" for a callback request)
    entry_id: str = ""  # the call id for a caller; "callback:<id>" for a callback request
    ticket_reference: str | None = None  # the draft created at queue entry
    earlier_references: tuple[str, ...] = ()  # the caller's open earlier tickets
    at_head: bool = False  # put back at the head (the agent's leg died)
    offered: bool = False  # an agent's phone is ringing for it

    def wait_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.entered_at).total_seconds())


class Claim(NamedTuple):
    won: bool
    ahead: int  # won: offers ahead still choosing an agent; lost: entries ahead not offered


@dataclass(frozen=True)
class QueueSnapshot:
    entries: list[QueueEntry] = field(default_factory=list)  # in the order they are offered
    oldest_wait_seconds: float | None = None  # callers on the line only; None when none wait
    holdtime_seconds: float | None = None  # the average of recent answered waits

    @property
    def callers_waiting(self) -> int:
        return sum(1 for e in self.entries if e.kind == "caller")

    @property
    def callbacks_waiting(self) -> int:
        return sum(1 for e in self.entries if e.kind == "callback")


@contextmanager
def _bus_errors(what: str) -> Iterator[None]:
    try:
        yield
    except redis.WatchError:
        raise
    except (redis.RedisError, OSError) as exc:
        raise BusUnavailable(f"live queue unavailable ({what}): {exc}") from exc


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _score(band: str, entered_at: datetime) -> int:
    return _BAND[band] * _BAND_MS + _ms(entered_at)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# An offers-hash value "token|until_ms", "token|until_ms|r" once an agent's phone rings for it:
# still running? and ringing? (the scripts' twin of LiveQueue._offer_live).
_OFFERED = """
local function offer_of(offer, now)
  if not offer then
    return false, false
  end
  local till, ringing = string.match(offer, '|(%d+)(|?r?)$')
  if not till or tonumber(till) < now then
    return false, false
  end
  return true, ringing == '|r'
end
local function offered(offer, now)
  local live = offer_of(offer, now)
  return live
end
"""
# The first entry alive and not being offered: if it is ARGV[1], it becomes offered to ARGV[3];
# the winner also learns how many entries ahead hold an offer but ring nobody yet (choosing an
# agent: the first agents free are theirs). Losers learn how many wait ahead, not offered.
_CLAIM = (
    _OFFERED
    + """
local now = tonumber(ARGV[2])
local cap = tonumber(ARGV[5])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local ahead = 0
local choosing = 0
for _, m in ipairs(members) do
  local alive = redis.call('ZSCORE', KEYS[2], m)
  if alive and tonumber(alive) >= now then
    local busy, ringing = offer_of(redis.call('HGET', KEYS[3], m), now)
    if m == ARGV[1] then
      if busy then
        return {0, math.max(ahead, 1)}
      end
      if ahead == 0 then
        redis.call('HSET', KEYS[3], m, ARGV[3] .. '|' .. tostring(now + tonumber(ARGV[4])))
        return {1, choosing}
      end
      return {0, ahead}
    end
    if not busy then
      ahead = ahead + 1
      if ahead >= cap then
        return {0, cap}
      end
    elseif not ringing then
      choosing = choosing + 1
    end
  end
end
return {0, cap}
"""
)
# One pass in order over the entries alive: {place of ARGV[1] among them (0: not there), the
# first not being offered (false: none)} -- what a waiting caller and the callback worker ask
# several times a second, without reading every entry back (the snapshot does that).
_SCAN = (
    _OFFERED
    + """
local now = tonumber(ARGV[2])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local n = 0
local head = false
for _, m in ipairs(members) do
  local alive = redis.call('ZSCORE', KEYS[2], m)
  if alive and tonumber(alive) >= now then
    n = n + 1
    if not head then
      if not offered(redis.call('HGET', KEYS[3], m), now) then
        head = m
      end
    end
    if m == ARGV[1] then
      return {n, head}
    end
    if head and ARGV[1] == '' then
      return {0, head}
    end
  end
end
return {0, head}
"""
)
# Release an offer only if it is still ours.
_RELEASE = """
local offer = redis.call('HGET', KEYS[1], ARGV[1])
if offer and string.sub(offer, 1, string.len(ARGV[2]) + 1) == ARGV[2] .. '|' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


class LiveQueue:
    def __init__(
        self,
        client: redis.Redis,
        *,
        alive_seconds: float = 20.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._redis = client
        self._alive_ms = int(alive_seconds * 1000)
        self._clock = clock

    # --- joining and leaving -----------------------------------------------------------------
    def join(self, entry: QueueEntry) -> QueueEntry:
        """Put a caller (or a callback request) in line; joining again replaces the entry."""
        if entry.priority not in PRIORITIES:
            raise InvalidInput(f"priority is one of {', '.join(PRIORITIES)}", "priority")
        entry_id = entry.entry_id or entry.call_id
        stored = QueueEntry(**{**entry.__dict__, "entry_id": entry_id, "offered": False})
        band = "head" if stored.at_head else stored.priority
        alive = FOREVER_MS if stored.kind == "callback" else self._now_ms() + self._alive_ms
        mapping: dict[Any, Any] = {
            "call_id": stored.call_id,
            "priority": stored.priority,
            "entered_at": stored.entered_at.isoformat(),
            "kind": stored.kind,
            "caller_masked": stored.caller_masked or "",
            "node": stored.node,
            "ticket_reference": stored.ticket_reference or "",
            "earlier_references": json.dumps(list(stored.earlier_references)),
            "at_head": "1" if stored.at_head else "",
        }
        with _bus_errors("join"):
            pipe = self._redis.pipeline(transaction=True)
            pipe.delete(entry_key(entry_id))
            pipe.hset(entry_key(entry_id), mapping=mapping)
            pipe.zadd(ORDER_KEY, {entry_id: _score(band, stored.entered_at)})
            pipe.zadd(ALIVE_KEY, {entry_id: alive})
            pipe.hdel(OFFERS_KEY, entry_id)
            pipe.execute()
        return stored

    def leave(self, entry_id: str) -> bool:
        """Take an entry out of the queue (answered, hung up, left for a callback)."""
        with _bus_errors("leave"):
            pipe = self._redis.pipeline(transaction=True)
            pipe.zrem(ORDER_KEY, entry_id)
            pipe.zrem(ALIVE_KEY, entry_id)
            pipe.hdel(OFFERS_KEY, entry_id)
            pipe.delete(entry_key(entry_id))
            removed = pipe.execute()[0]
        return bool(removed)

    def keep_alive(self, entry_id: str) -> None:
        """The caller's session is still there (called while it waits, well within alive)."""
        with _bus_errors("keep alive"):
            self._redis.zadd(ALIVE_KEY, {entry_id: self._now_ms() + self._alive_ms}, xx=True)

    def set_priority(self, entry_id: str, priority: str) -> None:
        """Raise (or change) an entry's priority; it keeps the time it entered."""
        entry = self.get(entry_id)
        if entry is None:
            raise InvalidInput(f"{entry_id} is not queued", "entry_id")
        self.join(QueueEntry(**{**entry.__dict__, "priority": priority}))

    # --- reading -------------------------------------------------------------------------------
    def get(self, entry_id: str) -> QueueEntry | None:
        with _bus_errors("read"):
            raw = self._redis.hgetall(entry_key(entry_id))
            offered = self._redis.hget(OFFERS_KEY, entry_id)
        if not raw:
            return None
        return _entry(entry_id, raw, self._offer_live(offered))

    def snapshot(self) -> QueueSnapshot:
        """The queue now, in the order entries will be offered (entries of dead nodes left out)."""
        now_ms = self._now_ms()
        with _bus_errors("read"):
            ids = [_text(m) for m in self._redis.zrange(ORDER_KEY, 0, -1)]
            if not ids:
                return QueueSnapshot(holdtime_seconds=self.holdtime())
            pipe = self._redis.pipeline(transaction=False)
            for entry_id in ids:
                pipe.hgetall(entry_key(entry_id))
                pipe.zscore(ALIVE_KEY, entry_id)
                pipe.hget(OFFERS_KEY, entry_id)
            pipe.get(HOLDTIME_KEY)
            replies = pipe.execute()
        entries: list[QueueEntry] = []
        for index, entry_id in enumerate(ids):
            raw, alive, offer = replies[3 * index : 3 * index + 3]
            if raw and alive is not None and float(alive) >= now_ms:
                entries.append(_entry(entry_id, raw, self._offer_live(offer)))
        now = self._clock()
        waits = [e.wait_seconds(now) for e in entries if e.kind == "caller"]
        holdtime = replies[-1]
        return QueueSnapshot(
            entries=entries,
            oldest_wait_seconds=max(waits) if waits else None,
            holdtime_seconds=float(holdtime) if holdtime is not None else None,
        )

    def position(self, entry_id: str) -> int | None:
        """1 for the next to be offered; None when not queued."""
        place, _head = self._scan(entry_id)
        return place or None

    def head(self) -> QueueEntry | None:
        """The first entry alive and not being offered (the next an agent is offered)."""
        _place, head = self._scan("")
        return self.get(head) if head is not None else None

    def _scan(self, entry_id: str) -> tuple[int, str | None]:
        with _bus_errors("read"):
            reply: Any = self._redis.eval(
                _SCAN, 3, ORDER_KEY, ALIVE_KEY, OFFERS_KEY, entry_id, self._now_ms()
            )
        place, head = reply[0], reply[1] if len(reply) > 1 else None
        return int(place), _text(head) if head is not None else None

    # --- offering an entry to an agent ---------------------------------------------------------
    def claim_head(self, entry_id: str, token: str, *, lease_seconds: float) -> bool:
        """Atomically: if ``entry_id`` is the first entry alive and not being offered, it becomes
        offered to ``token`` for ``lease_seconds`` (renew by claiming again with
        :meth:`renew_offer`); False when another entry comes first or it is already offered."""
        return self.claim(entry_id, token, lease_seconds=lease_seconds).won

    def claim(
        self, entry_id: str, token: str, *, lease_seconds: float, cap: int = PLACE_CAP
    ) -> Claim:
        """:meth:`claim_head`, telling where the entry stands. Won: ``ahead`` entries in front
        hold an offer but ring nobody yet, so the first ``ahead`` agents free are theirs (order
        kept when several offers run at once, Asterisk's ``autofill`` turn). Lost: how many
        entries waiting ahead are not being offered (1 when it is itself already offered or
        behind only offered ones; counting stops at ``cap``, also the answer for an entry not in
        the queue): a caller far back can look again less often, it cannot be next."""
        with _bus_errors("claim"):
            won: Any = self._redis.eval(
                _CLAIM,
                3,
                ORDER_KEY,
                ALIVE_KEY,
                OFFERS_KEY,
                entry_id,
                self._now_ms(),
                token,
                int(lease_seconds * 1000),
                cap,
            )
        claimed, ahead = bool(int(won[0])), int(won[1])
        return Claim(True, ahead) if claimed else Claim(False, max(ahead, 1))

    def renew_offer(
        self, entry_id: str, token: str, *, lease_seconds: float, ringing: bool = False
    ) -> None:
        """Extend the offer; ``ringing``: an agent's phone rings for it (it takes no further
        agent from the entries behind it until it chooses again)."""
        until = self._now_ms() + int(lease_seconds * 1000)
        with _bus_errors("renew"):
            self._redis.hset(OFFERS_KEY, entry_id, f"{token}|{until}" + "|r" * ringing)

    def release_offer(self, entry_id: str, token: str) -> bool:
        """The offer ended without a conversation (no agent, no answer): the entry waits on."""
        with _bus_errors("release"):
            released: Any = self._redis.eval(_RELEASE, 1, OFFERS_KEY, entry_id, token)
        return bool(released)

    def sweep(self) -> list[str]:
        """Remove the entries whose session stopped renewing them (their node died); returns
        their ids, for the call records."""
        with _bus_errors("sweep"):
            dead = [_text(m) for m in self._redis.zrangebyscore(ALIVE_KEY, 0, self._now_ms() - 1)]
        for entry_id in dead:
            self.leave(entry_id)
        return dead

    # --- the wait estimate ---------------------------------------------------------------------
    def holdtime(self) -> float | None:
        with _bus_errors("read"):
            value = self._redis.get(HOLDTIME_KEY)
        return float(value) if value is not None else None

    def record_answered_wait(
        self, wait_seconds: float, update: Callable[[float | None, float], float]
    ) -> float:
        """Fold one answered wait into the average with ``update`` (the queue policy's
        :func:`ivr.queue.policy.update_holdtime`); atomic against other nodes."""
        with _bus_errors("holdtime"), self._redis.pipeline() as pipe:
            for _ in range(50):
                try:
                    pipe.watch(HOLDTIME_KEY)
                    raw = pipe.get(HOLDTIME_KEY)
                    new = update(float(raw) if raw is not None else None, wait_seconds)
                    pipe.multi()
                    pipe.set(HOLDTIME_KEY, repr(new))
                    pipe.execute()
                    return new
                except redis.WatchError:
                    continue
        raise BusUnavailable("live queue: the hold time kept changing")

    # --- helpers -------------------------------------------------------------------------------
    def _now_ms(self) -> int:
        return _ms(self._clock())

    def _offer_live(self, offer: Any) -> bool:
        if offer is None:
            return False
        found = _OFFER.search(_text(offer))
        return found is not None and int(found.group(1)) >= self._now_ms()


def _entry(entry_id: str, raw: dict[Any, Any], offered: bool) -> QueueEntry:
    data = {_text(k): _text(v) for k, v in raw.items()}
    kind: Kind = "callback" if data.get("kind") == "callback" else "caller"
    return QueueEntry(
        call_id=data.get("call_id", entry_id),
        priority=data.get("priority", "normal"),
        entered_at=datetime.fromisoformat(data["entered_at"]),
        kind=kind,
        caller_masked=data.get("caller_masked") or None,
        node=data.get("node", ""),
        entry_id=entry_id,
        ticket_reference=data.get("ticket_reference") or None,
        earlier_references=tuple(json.loads(data.get("earlier_references") or "[]")),
        at_head=bool(data.get("at_head")),
        offered=offered,
    )
