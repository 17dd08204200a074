"""The call-takers' live presence in Redis, so every IVR node and web process sees the same.

One hash per agent, ``hotline:{agents}:agent:<username>``, and a set of known agents,
``hotline:{agents}:index``. The ``{agents}`` hash tag puts every key in one Redis Cluster slot,
so a change (WATCH the agent's hash, MULTI, write hash and index) is one atomic transaction
there too. Changes are optimistic: two nodes changing one agent at once both read, one commits,
the other reads again and re-applies its event to the new state (or is refused by the machine).
Redis errors leave as :class:`ServiceUnavailable`, the project's own error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from typing import Any

import redis

from config.agent_states import AgentStatesConfig
from ticketing.errors import Conflict, ServiceUnavailable
from ticketing.presence import AgentPresence, AgentState, Change, Presence

log = logging.getLogger(__name__)

PREFIX = "hotline:{agents}"
INDEX_KEY = PREFIX + ":index"
MAX_RETRIES = 20
_TIMES = ("since", "last_call_ended_at", "wrap_up_until")


def agent_key(username: str) -> str:
    return f"{PREFIX}:agent:{username}"


def to_fields(presence: Presence) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in fields(Presence):
        value = getattr(presence, f.name)
        if value is None:
            continue
        out[f.name] = value.isoformat() if isinstance(value, datetime) else str(value)
    return out


def from_fields(username: str, raw: dict[Any, Any]) -> Presence:
    data = {_text(k): _text(v) for k, v in raw.items()}
    if not data:
        return Presence(username)
    times = {
        name: datetime.fromisoformat(data[name]) if data.get(name) else None for name in _TIMES
    }
    return Presence(
        username=username,
        state=AgentState(data.get("state", "offline")),
        reason=data.get("reason") or None,
        call_id=data.get("call_id") or None,
        **times,
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@contextmanager
def _redis_errors(what: str) -> Iterator[None]:
    try:
        yield
    except redis.WatchError:
        raise
    except redis.RedisError as exc:
        raise ServiceUnavailable(f"agent presence unavailable ({what}): {exc}") from exc


class PresenceStore:
    def __init__(self, client: redis.Redis, config: AgentStatesConfig) -> None:
        self._redis = client
        self.config = config

    def get(self, username: str) -> Presence:
        with _redis_errors("read"):
            return from_fields(username, self._redis.hgetall(agent_key(username)))

    def all(self) -> list[Presence]:
        """Every agent that has had a state, by user name."""
        with _redis_errors("read"):
            names = sorted(_text(n) for n in self._redis.smembers(INDEX_KEY))
            if not names:
                return []
            pipe = self._redis.pipeline(transaction=False)
            for name in names:
                pipe.hgetall(agent_key(name))
            return [from_fields(n, raw) for n, raw in zip(names, pipe.execute(), strict=True)]

    def counts(self) -> dict[str, int]:
        counts = {state.value: 0 for state in AgentState}
        for presence in self.all():
            counts[presence.state.value] += 1
        return counts

    def apply(
        self, username: str, event: Callable[[AgentPresence], object]
    ) -> tuple[Presence, list[Change]]:
        """Run ``event`` on the agent's current presence and store the result atomically.

        Returns the new presence and the changes made (none when the event changed nothing).
        A :class:`~ticketing.presence.PresenceError` from the machine stores nothing."""
        key = agent_key(username)
        for _ in range(MAX_RETRIES):
            with _redis_errors("change"), self._redis.pipeline() as pipe:
                try:
                    pipe.watch(key)
                    machine = AgentPresence(from_fields(username, pipe.hgetall(key)), self.config)
                    event(machine)
                    if not machine.changes:
                        pipe.unwatch()
                        return machine.presence, []
                    pipe.multi()
                    pipe.delete(key)
                    mapping: dict[Any, Any] = to_fields(machine.presence)
                    pipe.hset(key, mapping=mapping)
                    pipe.sadd(INDEX_KEY, username)
                    pipe.execute()
                    return machine.presence, machine.changes
                except redis.WatchError:
                    log.debug("agent %s changed concurrently; re-applying", username)
        raise Conflict(f"agent {username}: presence kept changing; try again")
