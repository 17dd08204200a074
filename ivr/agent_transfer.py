"""Agent-to-agent transfer of a bridged caller (issue 13), for :class:`ivr.queue_call.QueueCall`.

The first officer asks (``transfer`` to ``agent:<user>``); the caller stays bridged to them while
the other agent's phone rings (an attended-style consult is not offered: the caller hears the
first officer until the second answers, as a contact centre's "warm-ish" transfer). On answer the
caller is re-bridged to the second agent, the first agent's leg ends and they go to wrap-up, and
the transfer is on the call record, the draft's audit and ``call.transferred``. When the other
agent is not available or does not answer, the caller stays with the first officer, or goes back
to the head of the queue when the first officer has hung up meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ivr.channel import CallChannel
from ivr.flow.events import CallerHungUp, ConversationOver, Event
from ticketing.call_commands import CallCommand
from ticketing.errors import DomainError

log = logging.getLogger(__name__)

TRANSFER_CALLER_ID = "1567"
HUB_RING_SECONDS = 30.0


def transfer_to_hub(
    dialler: Any, caller: CallChannel, target: str, call_id: str, record: Callable[[], object]
) -> Event:
    """A blind transfer to a hub through the trunk (``hub:<number>``): the caller is bridged to
    it until one side hangs up; unanswered -> back to the head of the queue (``requeue``)."""
    result = dialler.dial(
        f"tel:{target.removeprefix('hub:')}",
        caller_id=caller.caller_number or TRANSFER_CALLER_ID,
        ring_timeout=HUB_RING_SECONDS,
    )
    if str(result.outcome) != "answered" or result.channel is None:
        log.warning("call %s: %s %s: back to the queue", call_id, target, result.outcome)
        return ConversationOver("requeue")
    record()
    hub: CallChannel = result.channel
    bridge: Any = dialler.bridge(caller, hub)
    ended = None
    while ended is None:
        ended = bridge.wait(1.0)
    if ended == "a":
        try:
            hub.hangup()
        except Exception as exc:
            log.warning("call %s: ending the hub's leg failed: %s", call_id, exc)
        return CallerHungUp()
    return ConversationOver("transferred")


def transfer_to_agent(
    call: Any, conversation: Any, agent: str, leg: CallChannel, talk: float, command: CallCommand
) -> Any:
    """Returns the queue call's next event (a new conversation's, or ``requeue``)."""
    services = call._services
    other = command.target.removeprefix("agent:")
    outcome = "unavailable"
    result: Any = None
    if other and other != agent:
        try:
            services.presence.ring(other, call.call_id)  # only an available agent
        except DomainError as exc:
            log.info("call %s: transfer to %s refused: %s", call.call_id, other, exc)
        else:
            call._notify_ringing(other)
            cancel, dialled = threading.Event(), threading.Event()
            watch = threading.Thread(target=_caller_left, args=(conversation.bridge, cancel,
                                     dialled), daemon=True)  # fmt: skip
            watch.start()
            result = call._dialler.dial(
                command.target, caller_id=TRANSFER_CALLER_ID, ring_timeout=call._ring_timeout,
                cancel=cancel,
            )  # fmt: skip
            dialled.set()
            watch.join(1.0)
            outcome = str(getattr(result.outcome, "value", result.outcome))
    if outcome == "answered" and result is not None and result.channel is not None:
        call._guard(lambda: services.presence.answer(other))
        call._guard(conversation.bridge.unbridge)
        call._guard(leg.hangup)
        call._after_conversation(agent, talk, conversation.hold_seconds, True)
        call._guard(lambda: services.call_queue.transferred(call.call_id, command.target,
                                                            by=command.by))  # fmt: skip
        log.info("call %s: transferred from %s to %s", call.call_id, agent, other)
        with call._lock:
            call._answered = (other, result.channel)
        return call.converse(transferred=True)
    if result is not None:  # rang, not answered: back to available (no "no answer" break)
        call._guard(lambda: services.presence.ring_cancelled(other))
    log.warning("call %s: transfer to %s %s", call.call_id, command.target, outcome)
    call._guard(conversation.bridge.unbridge)
    if leg.ended:  # the first officer left meanwhile: the caller back to the head of the queue
        call._after_conversation(agent, talk, conversation.hold_seconds, True)
        return ConversationOver("requeue")
    with call._lock:  # the caller stays with the first officer
        call._answered = (agent, leg)
    return call.converse(transferred=True)


def _caller_left(bridge: Any, cancel: threading.Event, dialled: threading.Event) -> None:
    """While the other agent's phone rings: the caller hanging up cancels the ring (the first
    officer hanging up does not: the caller then goes to the other agent when they answer)."""
    while not dialled.is_set():
        ended = bridge.wait(0.2)
        if ended == "a":
            cancel.set()
        if ended is not None:
            return
