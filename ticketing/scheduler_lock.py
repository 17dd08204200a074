"""Exactly one scheduler acts: a Redis lease with a fencing token checked by the database.

``acquire`` takes (or renews) a lease in Redis (SET NX PX); each new holder gets the next number
of a counter — its fencing token. Every batch a holder writes first moves the database's fence
row up to its token (``UPDATE … WHERE fence <= token``): a holder whose lease expired while it
was paused, and who then wakes up, finds a higher fence and writes nothing (Kleppmann's fencing).
Both keys share one hash tag, so the script works on Redis Cluster.
"""

from __future__ import annotations

import contextlib
import logging
import secrets

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ticketing.errors import BusUnavailable
from ticketing.events import EventBus
from ticketing.models import SchedulerFence

log = logging.getLogger(__name__)

LOCK_KEY = "hotline:{scheduler}:lease"
FENCE_KEY = "hotline:{scheduler}:fence"

ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local fence = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. fence, 'PX', ARGV[2])
  return fence
end
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. ':' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(string.sub(held, string.len(ARGV[1]) + 2))
end
return false
"""

RELEASE = """
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. ':' then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LostLock(Exception):
    """This scheduler no longer holds the lease (or a newer holder has written)."""


class SchedulerLock:
    """The lease, through the event bus (the owner of Redis access): Redis down = not held."""

    def __init__(self, bus: EventBus, *, ttl_seconds: float = 90.0, name: str = "sla") -> None:
        self._ttl_ms = int(ttl_seconds * 1000)
        self._token = secrets.token_hex(8)
        self._acquire = bus.script(ACQUIRE)
        self._release = bus.script(RELEASE)
        self.name = name
        self.fence_token: int | None = None

    def acquire(self) -> int | None:
        """Take or renew the lease; returns the fencing token, or None when another holds it."""
        try:
            value = self._acquire.run([LOCK_KEY, FENCE_KEY], [self._token, self._ttl_ms])
        except BusUnavailable as exc:
            log.warning("scheduler lease unavailable (Redis): %s", exc)
            self.fence_token = None
            return None
        token = int(value) if value else None
        if token != self.fence_token:
            if token is None:
                log.info("scheduler: another instance holds the lease")
            else:
                log.info("scheduler: this instance acts (fencing token %d)", token)
        self.fence_token = token
        return token

    def release(self) -> None:
        with contextlib.suppress(BusUnavailable):
            self._release.run([LOCK_KEY], [self._token])
        self.fence_token = None

    def fence(self, session: Session) -> None:
        """Renew the lease and move the database fence; raises LostLock when superseded."""
        token = self.acquire()
        if token is None:
            raise LostLock("the scheduler lease was lost")
        check_fence(session, self.name, token)


def check_fence(session: Session, name: str, token: int) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(SchedulerFence)
        .values(name=name, fence=0)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    moved = session.execute(
        update(SchedulerFence)
        .where(SchedulerFence.name == name, SchedulerFence.fence <= token)
        .values(fence=token)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise LostLock(f"fencing token {token} is stale: a newer scheduler has written")
