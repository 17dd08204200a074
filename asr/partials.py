"""The text so far onto the draft, from one thread of its own rather than the decoding threads.

A draft update is a database transaction (and an event); done in the decoding thread it holds
up that call's audio for as long as the database takes. Decoding threads only ``offer`` the
latest text (never blocking); this thread writes at most one update per call every
``every`` seconds, the newest text only. ``close`` is called before the final transcript is
stored: it drops what is waiting and waits for a write in progress, so a late partial can
never overwrite the final transcript.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class PartialPublisher:
    def __init__(self, publish: Callable[[int, str], None], every: float) -> None:
        self._publish = publish
        self._every = every
        self._waiting: dict[int, str] = {}
        self._last: dict[int, float] = {}
        self._open: set[int] = set()
        self._writing: int | None = None
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._cond:
            self._stopped = False
        self._thread = threading.Thread(target=self._run, name="asr-partials", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def open(self, ticket_id: int) -> None:
        with self._cond:
            self._open.add(ticket_id)
            self._last[ticket_id] = 0.0

    def offer(self, ticket_id: int, text: str) -> None:
        with self._cond:
            if ticket_id in self._open and self._thread is not None:
                self._waiting[ticket_id] = text
                self._cond.notify_all()

    def close(self, ticket_id: int) -> None:
        with self._cond:
            self._open.discard(ticket_id)
            self._waiting.pop(ticket_id, None)
            self._last.pop(ticket_id, None)
            while self._writing == ticket_id:
                self._cond.wait()

    def _due(self, now: float) -> tuple[int, str] | None:
        for ticket_id, text in self._waiting.items():
            if now - self._last.get(ticket_id, 0.0) >= self._every:
                return ticket_id, text
        return None

    def _next_wait(self, now: float) -> float:
        if not self._waiting:
            return 1.0
        soonest = min(self._last.get(t, 0.0) + self._every for t in self._waiting)
        return max(0.01, soonest - now)

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    now = time.monotonic()
                    due = self._due(now)
                    if due is not None:
                        break
                    self._cond.wait(self._next_wait(now))
                ticket_id, text = due
                del self._waiting[ticket_id]
                self._last[ticket_id] = now
                self._writing = ticket_id
            try:
                self._publish(ticket_id, text)
            except Exception:
                log.exception("ticket %d: could not store the text so far", ticket_id)
            finally:
                with self._cond:
                    self._writing = None
                    self._cond.notify_all()
