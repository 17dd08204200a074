"""Callback requests placed by the IVR nodes, and the queue's housekeeping.

Any node may place a callback: when a callback request is the first entry of the live queue not
being offered, the node that wins the atomic claim (a Redis lease: the offer expires if that node
dies) rings the longest-idle available agent, and once the agent answers dials the citizen's
number through the trunk (``tel:<digits>``: Kamailio sends it to ``HOTLINE_SIP_TRUNK``) and
bridges the two (a stereo recording like any conversation). Each attempt and its outcome go on
the request; an unreached number is retried later at the same place in line, up to the limit.

The housekeeping (every node, idempotent): wrap-up over -> available, queue entries of dead
nodes swept, pending callbacks due again put back in line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from config.queue_settings import QueueSettings
from ivr.channel import CallChannel
from ivr.conversation import Conversation, DiallerLike
from ivr.queue.policy import PhoneStatus, candidates, choose_agent
from ivr.queue_call import HOTLINE_CALLER_ID, OFFER_LEASE_SECONDS
from ticketing.callbacks import callback_id_of
from ticketing.container import Services
from ticketing.errors import DomainError
from ticketing.live_queue import QueueEntry

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
CITIZEN_RING_SECONDS = 30.0
HOUSEKEEPING_SECONDS = 1.0
REQUEUE_SECONDS = 30.0


class CallbackWorker:
    def __init__(
        self,
        services: Services,
        dialler: DiallerLike,
        *,
        node: str,
        settings: QueueSettings,
        ring_timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._services = services
        self._dialler = dialler
        self._node = node
        self._settings = settings
        self._ring_timeout = ring_timeout
        self._clock = clock
        self._token = f"{node}/callbacks"
        self._lease = self._ring_timeout + CITIZEN_RING_SECONDS + OFFER_LEASE_SECONDS
        self._housekeeping_at = 0.0
        self._requeue_at = 0.0

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(POLL_SECONDS):
            try:
                self.step(stop)
            except Exception:
                log.exception("callback worker: step failed; carrying on")

    def step(self, stop: threading.Event) -> bool:
        """One look at the queue (and the housekeeping when due); True if a callback was placed."""
        self._housekeeping()
        entry = self._head_callback()
        if entry is None:
            return False
        claim = self._services.live_queue.claim(
            entry.entry_id, self._token, lease_seconds=self._lease
        )
        if not claim.won:
            return False
        try:
            return self.place(entry, stop, leave=claim.ahead)
        finally:
            self._services.live_queue.release_offer(entry.entry_id, self._token)

    def _head_callback(self) -> QueueEntry | None:
        entry = self._services.live_queue.head()
        # a caller at the head is their own session's to offer
        return entry if entry is not None and entry.kind == "callback" else None

    def place(self, entry: QueueEntry, stop: threading.Event, *, leave: int = 0) -> bool:
        """``leave``: offers ahead still choosing (the first agents free are theirs)."""
        callback_id = callback_id_of(entry.entry_id)
        if callback_id is None:
            return False
        presence = self._services.presence
        tried: set[str] = set()
        while not stop.is_set():
            agents = presence.store.all()
            phones = {p.username: PhoneStatus.REACHABLE for p in agents}
            choice = choose_agent(candidates(agents, phones), tried, leave)
            if choice is None:
                return False  # nobody free: the request keeps its place
            agent = choice.username
            tried.add(agent)
            try:
                presence.ring(agent, entry.entry_id)
            except DomainError:
                continue
            leave = 0  # (those ahead rang meanwhile) and ours rings: no agent kept for us
            self._mark_offer(entry, ringing=True)
            result = self._dialler.dial(
                f"agent:{agent}", caller_id=HOTLINE_CALLER_ID, ring_timeout=self._ring_timeout
            )
            outcome = str(result.outcome)
            if outcome == "answered" and result.channel is not None:
                presence.answer(agent)
                self._call_citizen(callback_id, entry, agent, result.channel)
                return True
            if outcome == "no_answer":
                presence.no_answer(agent)
            else:
                presence.ring_cancelled(agent)
            self._mark_offer(entry, ringing=False)  # choosing again
        return False

    def _mark_offer(self, entry: QueueEntry, *, ringing: bool) -> None:
        try:
            self._services.live_queue.renew_offer(
                entry.entry_id, self._token, lease_seconds=self._lease, ringing=ringing
            )
        except DomainError as exc:  # the ring goes on: the mark only orders offers at once
            log.warning("callback %s: renewing the offer failed: %s", entry.entry_id, exc)

    def _call_citizen(
        self, callback_id: int, entry: QueueEntry, agent: str, agent_leg: CallChannel
    ) -> None:
        services = self._services
        request = services.callbacks.start_attempt(callback_id, agent)
        reached = False
        outcome = "failed"
        try:
            result = self._dialler.dial(
                f"tel:{request['number']}",
                caller_id=HOTLINE_CALLER_ID,
                ring_timeout=CITIZEN_RING_SECONDS,
            )
            outcome = str(result.outcome)
            if outcome == "answered" and result.channel is not None:
                reached = True
                conversation = Conversation(services, self._settings, entry.call_id)
                ended = conversation.run(self._dialler, result.channel, agent_leg)
                (agent_leg if ended == "a" else result.channel).hangup()
        finally:
            if not reached:
                agent_leg.hangup()
            try:
                services.presence.hang_up(agent)  # -> wrap-up
            except DomainError as exc:
                log.warning("callback %d: agent %s not in wrap-up: %s", callback_id, agent, exc)
            services.callbacks.finish_attempt(callback_id, outcome, reached=reached)
        log.info("callback %d by %s: %s", callback_id, agent, outcome)

    def _housekeeping(self) -> None:
        now = self._clock()
        if now - self._housekeeping_at < HOUSEKEEPING_SECONDS:
            return
        self._housekeeping_at = now
        services = self._services
        try:
            services.presence.tick_all()
            for entry_id in services.live_queue.sweep():
                log.warning("queue entry %s dropped: its node stopped renewing it", entry_id)
            if now - self._requeue_at >= REQUEUE_SECONDS:
                self._requeue_at = now
                services.callbacks.requeue_due()
        except Exception as exc:
            log.warning("queue housekeeping: %s", exc)
