"""Danger heard in a live call's transcript, for the IVR node holding the call.

The ASR worker publishes ``asr.partial`` events while a caller speaks; the understanding's
urgency on the partial transcript travels with them (``urgent: true``, or ``urgency`` of
``urgent``/``high``). One follower per IVR node reads the event stream (plain XREAD from "now",
no consumer group: every node sees every partial) and remembers the calls flagged; the call's
session asks :meth:`UrgentWatch.urgent` while it records and, on True, moves the caller to the
head of the queue. Redis errors are logged and retried: a call never waits on this.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import redis

from ticketing.events import EVENTS_STREAM

log = logging.getLogger(__name__)

KEEP_SECONDS = 600.0
URGENT_WORDS = frozenset({"urgent", "high", "danger"})


def is_urgent_partial(data: dict[str, Any]) -> bool:
    if data.get("urgent") is True:
        return True
    return str(data.get("urgency", "")).lower() in URGENT_WORDS


class UrgentWatch:
    def __init__(
        self, client: redis.Redis, stream: str = EVENTS_STREAM, *, block_ms: int = 300
    ) -> None:
        self._redis = client
        self._stream = stream
        self._block_ms = block_ms
        self._last_id = "$"
        self._flagged: dict[str, float] = {}
        self._lock = threading.Lock()

    def urgent(self, call_id: str) -> bool:
        """True once for a call whose transcript was found urgent since the last ask."""
        with self._lock:
            return self._flagged.pop(call_id, None) is not None

    def flag(self, call_id: str) -> None:
        with self._lock:
            self._flagged[call_id] = time.monotonic()

    def read_once(self) -> int:
        """One blocking read of the stream; returns how many calls were flagged."""
        if self._last_id == "$":
            newest: Any = self._redis.xrevrange(self._stream, count=1)
            self._last_id = _text(newest[0][0]) if newest else "0-0"
        reply: Any = self._redis.xread(
            {self._stream: self._last_id}, count=500, block=self._block_ms
        )
        flagged = 0
        for _stream, entries in reply or []:
            for stream_id, fields in entries:
                self._last_id = _text(stream_id)
                data = {_text(k): _text(v) for k, v in fields.items()}
                if data.get("type") != "asr.partial":
                    continue
                payload = json.loads(data.get("data") or "{}")
                call_id = payload.get("call_id")
                if (
                    call_id
                    and payload.get("channel", "mono") != "agent"
                    and is_urgent_partial(payload)
                ):
                    self.flag(str(call_id))
                    flagged += 1
        self._prune()
        return flagged

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.read_once()
            except (redis.RedisError, OSError, ValueError) as exc:
                log.warning("urgency follower: %s; retrying", exc)
                stop.wait(1.0)

    def _prune(self) -> None:
        cutoff = time.monotonic() - KEEP_SECONDS
        with self._lock:
            for call_id in [c for c, at in self._flagged.items() if at < cutoff]:
                del self._flagged[call_id]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
