"""A watchdog on the node's SIP loop: how long it went without turning, and where it was stuck.

The SIP loop answers every datagram of every call; while it does not turn, Kamailio's INVITE
transactions time out (408 after its 2 s fr_timer) and callers are sent to another node. The
loop calls ``beat()`` at every turn; a daemon thread looks every ``interval`` and, once a turn has
lasted longer than ``threshold``, logs one warning per stall with the loop thread's stack at that
moment (the frames only: no call data). ``max_stall_seconds`` and ``stalls_total`` are read by
``ivr.metrics`` (``hotline_ivr_sip_loop_stall_seconds_max``, ``hotline_ivr_sip_loop_stalls``).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5
LOOP_NICE = -5  # above the call threads, below the media process's pacer (-10)
_INTERVAL = 0.1
_FRAMES = 8


class LoopWatch:
    def __init__(
        self,
        name: str,
        threshold: float = DEFAULT_THRESHOLD,
        *,
        interval: float = _INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        lock: object = None,
    ) -> None:
        self.name = name
        self.lock = lock  # the node's RLock: a stall while another thread holds it names that one
        self.threshold = threshold
        self.interval = interval
        self._clock = clock
        self._beat = clock()
        self._thread_id: int | None = None
        self._reported = False  # this stall was logged already
        self.max_stall_seconds = 0.0  # the longest turn seen (reset by ``take_max``)
        self.stalls_total = 0
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def beat(self) -> None:
        """One turn of the loop is over (called by the loop thread only)."""
        now = self._clock()
        turn = now - self._beat
        self._beat = now
        if turn > self.max_stall_seconds:
            self.max_stall_seconds = turn
        if self._reported:
            self._reported = False
            log.warning("%s: SIP loop turned again after %.2f s", self.name, turn)

    def take_max(self) -> float:
        """The longest turn since the last call (a scrape's window), then start afresh."""
        seen, self.max_stall_seconds = self.max_stall_seconds, 0.0
        return seen

    def start(self) -> None:
        self._thread_id = threading.get_ident()
        self._beat = self._clock()
        self._stop.clear()
        self._watcher = threading.Thread(
            target=self._watch, name=f"sip-loop-watch[{self.name}]", daemon=True
        )
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=1)

    def check(self) -> bool:
        """Log the stall once if the current turn is over the threshold; True if it is."""
        stalled = self._clock() - self._beat
        if stalled <= self.threshold:
            return False
        if not self._reported:
            self._reported = True
            self.stalls_total += 1
            log.warning("%s: SIP loop stuck for %.2f s, at:\n%s%s", self.name, stalled,
                        self.where(), self.holder())  # fmt: skip
        return True

    def holder(self) -> str:
        """Which other thread holds the node's lock, and where it is (empty if none does)."""
        owner = re.search(r"owner=(\d+)", repr(self.lock)) if self.lock is not None else None
        ident = int(owner.group(1)) if owner else 0
        if ident in (0, self._thread_id):
            return ""
        name = next((t.name for t in threading.enumerate() if t.ident == ident), str(ident))
        return f"\n  the node's lock is held by {name}, at:\n{self.where(ident)}"

    def where(self, thread_id: int | None = None) -> str:
        """A thread's (the loop's) innermost frames (file, line, function), newest last."""
        frame = sys._current_frames().get(thread_id or self._thread_id or -1)
        if frame is None:
            return "  (loop thread not running)"
        stack = traceback.extract_stack(frame)[-_FRAMES:]
        return "".join(
            f"  {entry.filename}:{entry.lineno} {entry.name}\n" for entry in stack
        ).rstrip()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the watchdog never takes the node down
                log.exception("%s: SIP loop watchdog failed", self.name)


def raise_thread_priority(nice: int, what: str) -> bool:
    """Run the calling thread at ``nice`` (Linux: a thread is a task with its own nice value), so
    that on a busy CPU the SIP loop is scheduled before the node's call threads; needs
    CAP_SYS_NICE (as the media process), else it keeps its priority, logged once."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (OSError, AttributeError) as exc:
        log.info("%s: keeps normal priority (nice %d refused: %s)", what, nice, exc)
        return False
    return True


def raise_to_realtime(priority: int, what: str) -> bool:
    """Run the calling thread under SCHED_RR at ``priority`` (1-99), as Asterisk's ``-p`` and
    FreeSWITCH's ``-rp`` run their media: it then preempts every ordinary task the moment a packet
    wakes it. The kernel's real-time throttle (``sched_rt_runtime_us``, 95 % by default) still
    leaves the machine to others if it ever spun. Needs CAP_SYS_NICE (or RLIMIT_RTPRIO); refused,
    it keeps its policy (logged) and the caller falls back to a nice value. A child started by
    it (none is) would not inherit the policy (SCHED_RESET_ON_FORK)."""
    try:
        policy = os.SCHED_RR | getattr(os, "SCHED_RESET_ON_FORK", 0)
        os.sched_setscheduler(threading.get_native_id(), policy, os.sched_param(priority))
    except (OSError, AttributeError, ValueError) as exc:
        log.info("%s: no real-time priority (SCHED_RR %d refused: %s)", what, priority, exc)
        return False
    log.info("%s: real-time priority SCHED_RR %d", what, priority)
    return True
