"""One caller's time in the queue and with a call-taker, run by the call's session.

* ``enter``: the call record and its draft (so the agent's screen pop has it), the live queue
  entry, and a dispatcher thread for this caller.
* The dispatcher: when this entry is the head (the live queue's atomic claim; further back it looks
  less often; the agents left to offers ahead still choosing skipped), the longest-idle available
  agent (:func:`ivr.queue.policy.choose_agent`) becomes ringing (the presence machine's own
  atomic step) and their phone is dialled (``agent:<user>``), ``cancel`` set if the caller
  leaves. No answer -> that agent goes to break "no answer" and the next is rung; busy,
  unreachable or rejected -> skipped (back to available); answered -> on call, handed to the
  session. Redis failing a round: logged, the dispatcher looks again. Each ring first reserves
  one of the node's outbound legs: at the limit nobody is rung until a leg ends (logged once,
  counted on /metrics). It keeps the entry alive.
* ``converse``: the bridge (RTP relayed in the media process), a stereo WAV (caller left, agent
  right) with a recording row per channel, each channel streamed to ASR; the calls never wait on
  Redis or the disk inside the relay's callback (it only buffers). Then the agent's wrap-up; the
  agent's leg dying or hanging up within ``MIN_TALK_SECONDS`` puts the caller back at the head.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from config.queue_settings import QueueSettings
from ivr.agent_transfer import transfer_to_agent, transfer_to_hub
from ivr.call_guard import CallGuard
from ivr.channel import CallChannel
from ivr.conversation import Conversation, DiallerLike, DialResultLike
from ivr.flow.events import (
    AgentAnswered,
    CallerHungUp,
    ConnectAgent,
    ConversationOver,
    EnterQueue,
    Event,
    LeaveQueue,
    QueryQueue,
    QueueStatus,
    RequestQueueCallback,
)
from ivr.outbound import OutboundCapacity, capacity_of
from ivr.queue.policy import PhoneStatus, candidates, choose_agent, estimated_wait, update_holdtime
from ticketing.actors import Actor
from ticketing.call_commands import CallCommand
from ticketing.container import Services
from ticketing.errors import BusUnavailable, DomainError, ServiceUnavailable
from ticketing.live_queue import Claim, QueueEntry
from ticketing.presence import AgentState

log = logging.getLogger(__name__)

QUEUE_ACTIONS = (EnterQueue, QueryQueue, LeaveQueue, ConnectAgent, RequestQueueCallback)
POLL_SECONDS = 0.1  # how often the head's dispatcher looks for a free agent; times the
BACKOFF_STEPS = 5  # places ahead, up to this, further back (all at 10/s: 1/4 of the CPU)
CAPACITY_WAIT_SECONDS = 0.5  # at the outbound limit: woken when a leg ends, else looks again
KEEP_ALIVE_SECONDS = 5.0
OFFER_LEASE_SECONDS = 10.0  # beyond the ring time: a dead node's offer expires
MIN_TALK_SECONDS = 5.0  # an agent hanging up sooner "hung up at once": the caller is requeued
HOTLINE_CALLER_ID = "1567"  # what the agent's phone shows (the number is on the screen pop)
_SKIP = frozenset({"busy", "unreachable", "rejected", "failed"})
_LOST_REASONS = frozenset({"rtp_timeout", "no_ack", "error"})
_IVR = Actor.system("ivr")


class QueueCall(CallGuard):
    def __init__(
        self,
        channel: CallChannel,
        services: Services,
        dialler: DiallerLike | None,
        *,
        node: str,
        settings: QueueSettings,
        ring_timeout: float,
        wrap_up_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._channel = channel
        self._services = services
        self._dialler = dialler
        self._node = node
        self._settings = settings
        self._ring_timeout = ring_timeout
        self._wrap_up = wrap_up_seconds
        self._clock = clock
        self.call_id = channel.call_id
        self._token = f"{node}/{self.call_id}"
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._dispatcher: threading.Thread | None = None
        self._answered: tuple[str, CallChannel] | None = None
        self._info: dict[str, Any] = {}
        self._entered: float | None = None  # monotonic, for the caller's wait
        self._alive_at = 0.0
        self._limited_at: float | None = None  # since when no outbound leg was free
        self.queued = False
        self.agent: str | None = None

    # --- the flow's actions --------------------------------------------------------------------
    def execute(self, action: object, reference: str | None) -> Event | None:
        if isinstance(action, EnterQueue):
            return self.enter(action.priority, at_head=action.at_head, reference=reference)
        if isinstance(action, QueryQueue):
            return self.status()
        if isinstance(action, LeaveQueue):
            self.leave(action.why)
        elif isinstance(action, RequestQueueCallback):
            self._request_callback(action.number)
        elif isinstance(action, ConnectAgent):
            return self.converse()
        return None

    def enter(self, priority: str, *, at_head: bool, reference: str | None) -> QueueStatus:
        services = self._services
        try:
            self._info = services.call_queue.queued(
                self.call_id, priority=priority, reference=reference
            )
            if priority == "urgent":
                ticket = self._info["ticket_reference"]
                services.tickets.update_fields(ticket, {"urgent": True}, _IVR)
            services.live_queue.join(
                QueueEntry(
                    call_id=self.call_id,
                    priority=priority,
                    entered_at=self._info["entered_at"],
                    caller_masked=self._info["caller_masked"],
                    node=self._node,
                    ticket_reference=self._info["ticket_reference"],
                    earlier_references=tuple(self._info["earlier_references"]),
                    at_head=at_head,
                )
            )
        except Exception as exc:
            # no queue without the database or Redis: the caller is offered callback / recording
            log.error("call %s: cannot queue: %s: %s", self.call_id, type(exc).__name__, exc)
            return QueueStatus(None, None, 0, 0.0)
        if self._entered is None:
            self._entered = self._clock()
        self.queued = True
        self._alive_at = self._clock()
        self._cancel = threading.Event()
        self._answered = None
        if self._dialler is None:
            return self.status()  # no phone can ring from here: the callers get the choices
        name = f"queue-{self.call_id}"
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, args=(self._cancel,), name=name, daemon=True
        )
        self._dispatcher.start()
        log.info("call %s: queued (%s%s)", self.call_id, priority, ", at the head" * at_head)
        return self.status()

    def status(self) -> QueueStatus:
        waited = self._clock() - self._entered if self._entered is not None else 0.0
        try:
            position = self._services.live_queue.position(self.call_id)
            holdtime = self._services.live_queue.holdtime()
            agents = self._logged_in()
        except Exception as exc:
            log.error("call %s: queue status unavailable: %s", self.call_id, exc)
            return QueueStatus(None, None, 0, waited)
        return QueueStatus(position, estimated_wait(holdtime, waited), agents, waited)

    def _logged_in(self) -> int:
        if self._dialler is None:
            return 0  # this node cannot ring a phone: nobody to wait for
        agents = self._services.presence.store.all()
        return sum(p.state is not AgentState.OFFLINE for p in agents)

    def leave(self, why: str) -> None:
        """The caller leaves the queue (callback, recording, hung up): any ringing is cancelled."""
        self._cancel.set()
        if not self.queued:
            return
        self.queued = False
        try:
            self._services.live_queue.leave(self.call_id)
        except Exception as exc:
            log.error("call %s: leaving the live queue failed: %s", self.call_id, exc)
        log.info("call %s: left the queue (%s)", self.call_id, why)

    def close(self) -> bool:
        """The call is over: leave the queue if still in it (True: the caller was waiting) and
        let go of an agent who answered too late to be connected."""
        was_queued = self.queued
        self.leave("call ended")
        with self._lock:
            answered, self._answered = self._answered, None
        if answered is not None:
            agent, leg = answered
            self._guard(leg.hangup)
            self._guard(lambda: self._services.presence.hang_up(agent))
        return was_queued

    def poll(self) -> AgentAnswered | None:
        """Called by the session while it waits: keeps the entry alive, reports an answer."""
        self._keep_alive()
        with self._lock:
            answered = self._answered
        return AgentAnswered(answered[0]) if answered is not None else None

    def _keep_alive(self) -> None:
        """Renewed by the session's polls and the dispatcher's (a session held up 20 s lapsed)."""
        now = self._clock()
        if self.queued and now - self._alive_at >= KEEP_ALIVE_SECONDS:
            self._alive_at = now
            try:
                self._services.live_queue.keep_alive(self.call_id)
            except Exception as exc:
                log.warning("call %s: queue keep-alive failed: %s", self.call_id, exc)

    def _request_callback(self, number: str) -> None:
        info = self._info
        try:
            self._services.callbacks.request(
                number,
                call_id=self.call_id,
                ticket_reference=info.get("ticket_reference"),
                queue_position_at=info.get("entered_at"),
            )
            self._services.call_queue.set_outcome(self.call_id, "callback_requested")
        except Exception as exc:
            log.error("call %s: callback request failed: %s: %s", self.call_id, type(exc), exc)

    # --- the dispatcher thread -----------------------------------------------------------------
    def _dispatch_loop(self, cancel: threading.Event) -> None:
        capacity = capacity_of(self._dialler)
        try:
            while not cancel.is_set():
                self._keep_alive()
                if capacity is not None and self._limited_at is not None:
                    if not capacity.outbound_free():  # at the limit: no claim, no ring
                        capacity.wait_for_capacity(CAPACITY_WAIT_SECONDS)
                        continue
                    waited, self._limited_at = self._clock() - self._limited_at, None
                    log.info("call %s: outbound leg free after %.1f s", self.call_id, waited)
                claim = self._claim()
                if not claim.won:
                    cancel.wait(POLL_SECONDS * min(claim.ahead, BACKOFF_STEPS))
                    continue
                try:
                    done = self._offer_round(cancel, capacity, leave=claim.ahead)
                except (ServiceUnavailable, BusUnavailable) as exc:  # Redis away: look again
                    log.warning("call %s: offer round failed: %s", self.call_id, exc)
                    done = False
                finally:
                    self._unreserve(capacity)
                    self._release()
                if done:
                    return
                if self._limited_at is None:
                    cancel.wait(POLL_SECONDS)
        except Exception:
            log.exception("call %s: the queue dispatcher failed", self.call_id)

    def _reserve(self, capacity: OutboundCapacity | None) -> bool:
        """An outbound leg held for this thread's next dial; False at the limit (the episode
        logged and counted once, not per retry)."""
        if capacity is None or capacity.reserve_outbound(count_refusal=self._limited_at is None):
            return True
        if self._limited_at is None:
            self._limited_at = self._clock()
            log.warning("call %s: node at HOTLINE_IVR_MAX_OUTBOUND, no agent rung", self.call_id)
        return False

    @staticmethod
    def _unreserve(capacity: OutboundCapacity | None) -> None:
        if capacity is not None:
            capacity.release_outbound()

    def _claim(self) -> Claim:
        try:
            return self._services.live_queue.claim(
                self.call_id, self._token, lease_seconds=self._ring_timeout + OFFER_LEASE_SECONDS
            )
        except DomainError as exc:
            log.warning("call %s: claim failed: %s", self.call_id, exc)
            return Claim(False, 1)

    def _release(self) -> None:
        try:
            self._services.live_queue.release_offer(self.call_id, self._token)
        except DomainError as exc:
            log.warning("call %s: releasing the offer failed: %s", self.call_id, exc)

    def _offer_round(
        self, cancel: threading.Event, capacity: OutboundCapacity | None, *, leave: int = 0
    ) -> bool:
        """Ring agents one after another while this caller holds the head; True when it is over
        (answered or the caller left), False when no agent (or no outbound leg) is free now.
        ``leave``: callers ahead still choosing; the first agents free are theirs."""
        assert self._dialler is not None
        presence = self._services.presence
        tried: set[str] = set()
        agents = None  # a snapshot kept past an agent taken meanwhile: ring() checks atomically
        while not cancel.is_set():
            agents = agents or presence.store.all()
            phones = {p.username: PhoneStatus.REACHABLE for p in agents}
            choice = choose_agent(candidates(agents, phones), tried, leave)
            if choice is None:
                return False
            if not self._reserve(capacity):
                return False  # the agent is not touched: still available, still longest idle
            agent = choice.username
            tried.add(agent)
            try:
                presence.ring(agent, self.call_id)
            except DomainError as exc:
                if not presence.ringing_for(agent, self.call_id):  # (else stored, reply lost)
                    log.info("call %s: agent %s taken meanwhile (%s)", self.call_id, agent, exc)
                    continue
            agents, leave = None, 0  # once rung: read again after the dial, those ahead rang
            self._mark_offer(ringing=True)
            self._notify_ringing(agent)
            try:
                result: DialResultLike = self._dialler.dial(
                    f"agent:{agent}",
                    caller_id=HOTLINE_CALLER_ID,
                    ring_timeout=self._ring_timeout,
                    cancel=cancel,
                )
            finally:
                self._unreserve(capacity)  # (the dial used it; unused if it failed early)
            if self._after_dial(agent, result, cancel):
                return True
            self._mark_offer(ringing=False)  # choosing again
        return True

    def _mark_offer(self, *, ringing: bool) -> None:
        """Renew the offer, marked ringing or choosing; failing, the ring goes on (the mark only
        orders several offers at once; the lease was taken at the claim)."""
        lease = self._ring_timeout + OFFER_LEASE_SECONDS
        try:
            self._services.live_queue.renew_offer(
                self.call_id, self._token, lease_seconds=lease, ringing=ringing
            )
        except DomainError as exc:
            log.warning("call %s: renewing the offer failed: %s", self.call_id, exc)

    def _notify_ringing(self, agent: str) -> None:
        info, ringing = self._info, self._services.call_queue.ringing
        reference, earlier = info.get("ticket_reference"), info.get("earlier_references")
        self._attempt(lambda: ringing(self.call_id, agent, ticket_reference=reference,
                                      earlier=list(earlier or [])))  # fmt: skip

    def _after_dial(self, agent: str, result: DialResultLike, cancel: threading.Event) -> bool:
        presence = self._services.presence
        outcome = str(result.outcome)
        log.info("call %s: agent %s: %s", self.call_id, agent, outcome)
        if outcome == "answered" and result.channel is not None:
            self._guard(lambda: presence.answer(agent))
            with self._lock:
                if not cancel.is_set():
                    self._answered = (agent, result.channel)
                    self.leave("answered")
                    return True
            # the caller left while the agent answered: end the agent's leg, agent to wrap-up
            result.channel.hangup()
            self._guard(lambda: presence.hang_up(agent))
            return True
        if outcome == "no_answer":
            # break "no answer" (FreeSWITCH max-no-answer habit), then the next agent
            self._guard(lambda: presence.no_answer(agent))
            return False
        try:
            presence.ring_cancelled(agent)
        except DomainError as exc:
            log.warning("call %s: agent %s not reset after the offer: %s", self.call_id, agent, exc)
        return outcome not in _SKIP  # cancelled: the caller left; busy and the like: next agent

    # --- the conversation ----------------------------------------------------------------------
    def converse(self, *, transferred: bool = False) -> Event:
        with self._lock:
            answered, self._answered = self._answered, None
        assert answered is not None and self._dialler is not None
        agent, leg = answered
        self.agent = agent
        services = self._services
        started = self._clock()
        # before the record says answered (commands refused until then): none sent between lost
        reader = self._guard(lambda: services.call_commands.reader(self._node, self.call_id))
        if not transferred:  # (an agent-to-agent transfer: the caller's wait was counted)
            wait = self._guard(lambda: services.call_queue.bridged(self.call_id, agent), 0.0)
            self._guard(lambda: services.live_queue.record_answered_wait(wait, update_holdtime))
        conversation = Conversation(services, self._settings, self.call_id)
        ended = conversation.run(
            self._dialler, self._channel, leg,
            commands=(lambda: self._guard(reader.next)) if reader is not None else None,
        )  # fmt: skip
        talk = self._clock() - started
        if isinstance(conversation.command, CallCommand):
            return self._transfer(conversation, agent, leg, talk, conversation.command)
        by = self._who_ended(ended, leg, talk)
        if by == "caller":
            self._guard(leg.hangup)
        elif conversation.bridge is not None:
            self._guard(conversation.bridge.unbridge)
        self._after_conversation(agent, talk, conversation.hold_seconds, by != "agent_lost")
        log.info("call %s: conversation with %s over (%s, %.1f s)", self.call_id, agent, by, talk)
        return CallerHungUp() if by == "caller" else ConversationOver(by)

    def _transfer(
        self, conversation: Conversation, agent: str, leg: CallChannel, talk: float,
        command: CallCommand,
    ) -> Event:  # fmt: skip
        """The officer sends the caller on: to the queue (at the head), or a blind transfer to a
        hub through the trunk (unreachable: back to the head of the queue)."""
        assert self._dialler is not None and conversation.bridge is not None
        if command.target.startswith("agent:"):
            return transfer_to_agent(self, conversation, agent, leg, talk, command)
        services = self._services
        self._guard(conversation.bridge.unbridge)
        self._guard(leg.hangup)
        self._after_conversation(agent, talk, conversation.hold_seconds, True)
        record = partial(services.call_queue.transferred, self.call_id, command.target,
                         by=command.by)  # fmt: skip
        if command.target == "queue":
            self._guard(record)
            return ConversationOver("requeue")
        return transfer_to_hub(self._dialler, self._channel, command.target, self.call_id,
                               lambda: self._guard(record))  # fmt: skip

    @staticmethod
    def _who_ended(ended: str | None, leg: CallChannel, talk: float) -> str:
        if ended == "a":
            return "caller"
        reason = leg.end_reason or "error"
        if reason in _LOST_REASONS or talk < MIN_TALK_SECONDS:
            return "agent_lost"
        return "agent"

    def _after_conversation(self, agent: str, talk: float, hold: float, answered: bool) -> None:
        services = self._services
        self._guard(lambda: services.presence.hang_up(agent))  # -> wrap-up
        if answered:
            self._guard(
                lambda: services.call_queue.conversation_ended(
                    self.call_id, talk_seconds=max(0.0, talk - hold), hold_seconds=hold
                )
            )
            self._guard(lambda: services.call_queue.wrap_up(self.call_id, self._wrap_up))
