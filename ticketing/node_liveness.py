"""IVR nodes' heartbeats in Redis, so the scheduler knows a node that died (issue 13).

Each IVR node writes ``hotline:{nodes}:beat:<node>`` every ``HOTLINE_NODE_HEARTBEAT_SECONDS``
with a time to live of ``HOTLINE_NODE_HEARTBEAT_TTL_SECONDS`` (default three beats): Redis
itself lets the key expire, so no clock on any machine decides that a node is dead. The hash
``hotline:{nodes}:seen`` (node -> its last beat, UTC ISO) remembers every node that has beaten:

* a node **alive** has its beat key;
* a node **stopped** was seen and its beat key expired (killed, hung, cut off from Redis): the
  presence reconciler ends its calls (:meth:`ticketing.presence_reconcile.PresenceReconciler`);
* a node never seen is **unknown** and never judged (calls written by something that does not
  beat, such as a test's rows, are left to the older 2 h and ring-time rules).

A node that stops cleanly takes itself out (:meth:`NodeLiveness.leave`): it is neither alive
nor stopped. A node stopped for longer than :data:`FORGET_AFTER` is forgotten. Redis errors
leave as :class:`~ticketing.errors.BusUnavailable`; the heartbeat loop logs them and beats on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import redis

from ticketing.errors import BusUnavailable
from ticketing.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

PREFIX = "hotline:{nodes}"
SEEN_KEY = PREFIX + ":seen"
FORGET_AFTER = timedelta(days=1)


def beat_key(node: str) -> str:
    return f"{PREFIX}:beat:{node}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@contextmanager
def _bus_errors(what: str) -> Iterator[None]:
    try:
        yield
    except (redis.RedisError, OSError) as exc:
        raise BusUnavailable(f"node heartbeats unavailable ({what}): {exc}") from exc


class NodeLiveness:
    def __init__(
        self,
        client: redis.Redis,
        *,
        interval_seconds: float = 2.0,
        ttl_seconds: float | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._redis = client
        self.interval_seconds = interval_seconds
        self.ttl_seconds = ttl_seconds if ttl_seconds is not None else 3 * interval_seconds
        self._clock = clock

    def beat(self, node: str) -> None:
        """The node is alive for the next ``ttl_seconds``."""
        with _bus_errors("beat"):
            pipe = self._redis.pipeline(transaction=True)
            pipe.set(beat_key(node), self._clock().isoformat(), px=int(self.ttl_seconds * 1000))
            pipe.hset(SEEN_KEY, node, self._clock().isoformat())
            pipe.execute()

    def leave(self, node: str) -> None:
        """A clean stop: the node holds no call any more, it is neither alive nor stopped."""
        with _bus_errors("leave"):
            pipe = self._redis.pipeline(transaction=True)
            pipe.delete(beat_key(node))
            pipe.hdel(SEEN_KEY, node)
            pipe.execute()

    def nodes(self) -> dict[str, bool]:
        """Every node seen, by name -> alive (its beat key is there)."""
        with _bus_errors("read"):
            seen = {_text(k): _text(v) for k, v in self._redis.hgetall(SEEN_KEY).items()}
            names = sorted(seen)
            if not names:
                return {}
            pipe = self._redis.pipeline(transaction=False)
            for name in names:
                pipe.exists(beat_key(name))
            alive = [bool(n) for n in pipe.execute()]
        now = self._clock()
        out: dict[str, bool] = {}
        for name, up in zip(names, alive, strict=True):
            if not up and now - _moment(seen[name], now) > FORGET_AFTER:
                self._forget(name)
                continue
            out[name] = up
        return out

    def stopped(self) -> set[str]:
        """The nodes seen whose heartbeat ran out."""
        return {name for name, up in self.nodes().items() if not up}

    def _forget(self, node: str) -> None:
        with _bus_errors("forget"):
            self._redis.hdel(SEEN_KEY, node)

    def run(self, node: str, stop: threading.Event) -> None:
        """The node's heartbeat thread: beat every ``interval_seconds`` until ``stop``, then
        leave. A Redis error is logged and the next beat tried (the TTL decides, not us)."""
        failing = False
        while not stop.is_set():
            try:
                self.beat(node)
                if failing:
                    log.info("node %s: heartbeat written again", node)
                failing = False
            except BusUnavailable as exc:
                if not failing:
                    log.error("node %s: heartbeat not written: %s", node, exc)
                failing = True
            stop.wait(self.interval_seconds)
        try:
            self.leave(node)
        except Exception as exc:  # at shutdown the client may be closing under it: best effort
            log.warning("node %s: could not take its heartbeat out: %s", node, exc)


def _moment(text: str, default: datetime) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        return default
