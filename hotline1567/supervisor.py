"""Keep every child of ``hotline1567 run`` alive: the embedded Redis and Kamailio and each role.

Each child is a ``Service`` (start, exited, stop). A child that dies is restarted after a backoff
that doubles from 1 s up to 30 s and falls back to 1 s once it has stayed up for a minute; every
exit and every restart is logged. A start that fails is treated like an exit.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
STABLE_AFTER = 60.0  # seconds up before a crash counts as new again (backoff back to 1 s)


class Service(Protocol):
    def start(self) -> None: ...

    def exited(self) -> bool: ...

    def stop(self) -> None: ...


class RoleProcess:
    """One role (``web``, ``ivr``, ``asr-worker``) as ``python -m hotline1567 ROLE``."""

    def __init__(self, role: str, env: dict[str, str]) -> None:
        self.role = role
        self._env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hotline1567", self.role], env=self._env
        )
        log.info("%s started (pid %d)", self.role, self.process.pid)

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    @property
    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def signal_stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 15.0) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Supervised:
    name: str
    service: Service
    up: bool = False
    restarts: int = 0
    started_at: float = 0.0
    backoff: float = FIRST_BACKOFF
    next_start: float = 0.0


class Supervisor:
    def __init__(
        self, services: Sequence[tuple[str, Service]], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.children = [Supervised(name, service) for name, service in services]
        self._clock = clock

    def add(self, name: str, service: Service) -> None:
        """A child to start at the next tick."""
        self.children.append(Supervised(name, service))

    def adopt(self, name: str, service: Service) -> None:
        """A child that is already running (started before supervision began)."""
        self.children.append(Supervised(name, service, up=True, started_at=self._clock()))

    def tick(self) -> None:
        """Check every child once: note exits, start what is due."""
        now = self._clock()
        for child in self.children:
            if child.up:
                if not child.service.exited():
                    if now - child.started_at > STABLE_AFTER:
                        child.backoff = FIRST_BACKOFF
                    continue
                self._schedule(child, now, f"{child.name} exited{_code(child.service)}")
            elif now >= child.next_start:
                self._start(child, now)

    def _start(self, child: Supervised, now: float) -> None:
        try:
            if child.restarts:
                child.service.stop()  # reap what is left of the dead one
            child.service.start()
        except Exception as exc:
            self._schedule(child, now, f"{child.name} failed to start: {exc}")
            return
        child.up = True
        child.started_at = self._clock()
        if child.restarts:
            log.warning("%s restarted (restart %d)", child.name, child.restarts)

    def _schedule(self, child: Supervised, now: float, why: str) -> None:
        child.up = False
        child.restarts += 1
        child.next_start = now + child.backoff
        log.warning("%s; restarting in %.0f s", why, child.backoff)
        child.backoff = min(child.backoff * 2, MAX_BACKOFF)

    def run(self, stop: list[bool], poll: float = 0.2) -> None:
        while not stop[0]:
            self.tick()
            time.sleep(poll)

    def stop_all(self) -> None:
        """Roles first (they use Redis and Kamailio), all signalled at once, then the rest."""
        roles = [c.service for c in self.children if isinstance(c.service, RoleProcess)]
        for role in roles:
            role.signal_stop()
        for role in roles:
            role.stop()
        for child in reversed(self.children):
            if not isinstance(child.service, RoleProcess):
                try:
                    child.service.stop()
                except Exception:
                    log.exception("stopping %s failed", child.name)


def _code(service: Service) -> str:
    code = getattr(service, "exit_code", None)
    return f" with {code}" if code is not None else ""
