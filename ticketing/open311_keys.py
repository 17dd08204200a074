"""Open311 API keys (one per client, stored hashed) and the per-key rate limit on POSTs.

``hotline1567 open311 key add NAME`` prints a new key once; ``list`` shows names and prefixes;
``revoke`` takes the key or its prefix. The rate limit counts POSTs per key and minute in Redis
(one counter per window, expiring with it), so every web process shares it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.errors import AuthenticationFailed, BusUnavailable, InvalidInput
from ticketing.events import EventBus
from ticketing.models import Open311Key
from ticketing.serialize import iso
from ticketing.timeutil import utcnow

log = logging.getLogger(__name__)

KEY_PREFIX = "o311_"
PREFIX_LENGTH = len(KEY_PREFIX) + 6


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Client:
    key_id: int
    name: str


class Open311Keys:
    def __init__(self, sessions: sessionmaker[Session], bus: EventBus | None = None) -> None:
        self._sessions = sessions
        self._count = bus.script(_COUNT) if bus is not None else None

    def add(self, name: str) -> str:
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput("a key needs a client name of 1-100 characters", "name")
        key = KEY_PREFIX + secrets.token_urlsafe(24)
        with self._sessions.begin() as session:
            session.add(Open311Key(name=name, key_hash=_hash(key), prefix=key[:PREFIX_LENGTH]))
        return key

    def list(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            return [
                {
                    "name": k.name,
                    "prefix": k.prefix,
                    "created_at": iso(k.created_at),
                    "revoked_at": iso(k.revoked_at),
                }
                for k in session.scalars(select(Open311Key).order_by(Open311Key.id))
            ]

    def revoke(self, key_or_prefix: str) -> int:
        with self._sessions.begin() as session:
            query = select(Open311Key).where(Open311Key.revoked_at.is_(None))
            if len(key_or_prefix) > PREFIX_LENGTH:
                query = query.where(Open311Key.key_hash == _hash(key_or_prefix))
            else:
                query = query.where(Open311Key.prefix == key_or_prefix)
            keys = list(session.scalars(query))
            for key in keys:
                key.revoked_at = utcnow()
            return len(keys)

    def check(self, key: str | None) -> Client:
        if not key:
            raise AuthenticationFailed("api_key is required to create a request")
        with self._sessions() as session:
            row = session.scalars(
                select(Open311Key).where(Open311Key.key_hash == _hash(key))
            ).one_or_none()
            if row is None or row.revoked_at is not None:
                raise AuthenticationFailed("invalid or revoked api_key")
            return Client(row.id, row.name)

    def allow(self, client: Client, per_minute: int) -> bool:
        """Count one POST of this key in the current minute; False once over the limit."""
        if self._count is None:
            return True
        window = int(time.time() // 60)
        counter = f"hotline:{{open311}}:rate:{client.key_id}:{window}"
        try:
            count = self._count.run([counter], [120])
        except BusUnavailable as exc:  # writes survive a Redis outage: do not refuse them
            log.warning("open311 rate limit unavailable (Redis): %s", exc)
            return True
        return int(count) <= per_minute


# One counter per key and minute, expiring after the window (through the event bus's Redis).
_COUNT = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return count
"""
