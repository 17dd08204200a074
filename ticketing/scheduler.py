"""The scheduler role: every minute, the one instance holding the lease runs its jobs — the SLA
pass first, then the outboxes (mail, Open311) — and the others wait their turn.

Jobs are callables taking the fence; a job that fails is logged and the loop goes on, so a
broken mail server never stops the SLA clocks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ticketing.scheduler_lock import LostLock, SchedulerLock

log = logging.getLogger(__name__)

Job = Callable[[Callable[[Session], None]], object]


@dataclass
class Scheduler:
    lock: SchedulerLock
    jobs: list[tuple[str, Job]] = field(default_factory=list)
    interval: float = 60.0
    quick_interval: float = 5.0  # outbox jobs run this often between SLA passes
    quick_jobs: list[tuple[str, Job]] = field(default_factory=list)
    passes: int = 0

    def run_forever(self, stop: threading.Event) -> None:
        next_full = 0.0
        try:
            while not stop.is_set():
                now = time.monotonic()
                if self.lock.acquire() is not None:
                    if now >= next_full:
                        self._run(self.jobs)
                        self.passes += 1
                        next_full = now + self.interval
                    self._run(self.quick_jobs)
                stop.wait(self.quick_interval)
        finally:
            self.lock.release()

    def run_once(self) -> bool:
        """One round if this instance holds the lease; returns whether it acted."""
        if self.lock.acquire() is None:
            return False
        self._run(self.jobs)
        self._run(self.quick_jobs)
        self.passes += 1
        return True

    def _run(self, jobs: list[tuple[str, Job]]) -> None:
        for name, job in jobs:
            try:
                job(self.lock.fence)
            except LostLock as exc:
                log.warning("scheduler job %s stopped: %s", name, exc)
                return
            except Exception:
                log.exception("scheduler job %s failed; the next round tries again", name)
