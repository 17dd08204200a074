"""The call flow's queue states: waiting for a call-taker (a mixin of :class:`CallFlow`).

* Entering: key 0 at the main menu, three missed inputs there (the elderly and people in
  distress are the ones who do not press keys), or danger heard while recording (priority
  urgent, after the Thai notice that the recording stopped).
* Waiting: the hold prompt, then every ``announce_seconds`` the caller's position and the
  estimated wait (not said when unknown), between them comfort prompts and hold music: never
  dead air.
* After ``offer_after_seconds`` (at once when no call-taker is logged in at all): 1 keep waiting,
  2 callback request (the caller-ID number read back, or another keyed and read back), 3 record
  the complaint instead. No key: keep waiting; with nobody logged in, the complaint is recorded
  (the caller is heard, never left in an endless wait).
* An agent who answers while anything plays is connected at once (the prompt stops).
* The agent's leg dying, or the agent hanging up at once: the caller is told and goes back to the
  head of the queue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ivr.flow.events import (
    Action,
    AgentAnswered,
    CancelTimer,
    ConnectAgent,
    ConversationOver,
    Digit,
    EnterQueue,
    Event,
    HangUp,
    LeaveQueue,
    LogStep,
    Play,
    PromptFinished,
    QueryQueue,
    QueueStatus,
    RequestQueueCallback,
    SetTimer,
    StopPlayback,
    Timeout,
)
from ivr.flow.menu import FlowConfig
from ivr.flow.states import QUEUE_STATES, CallState
from ivr.prompts.speech import sequence_for_digits, sequence_for_number

HOLD_MUSIC = "hold_music"  # generated in code (ivr.prompts.library), like beep and pause


@dataclass(frozen=True)
class QueueTiming:
    announce_seconds: float = 45.0
    offer_after_seconds: float = 120.0


def national_number(number: str | None) -> str | None:
    """Caller ID as the caller would key it: +66 8x... / 66 8x... -> 08x... (digits only)."""
    if not number:
        return None
    digits = "".join(c for c in number if c.isdigit())
    if number.strip().startswith("+66") or (digits.startswith("66") and len(digits) >= 11):
        digits = "0" + digits[2:]
    return digits or None


def callback_number_ok(digits: str) -> bool:
    """A Thai phone number to call back: 9 or 10 digits from 0 (landline or mobile)."""
    return digits.isdigit() and digits.startswith("0") and 9 <= len(digits) <= 10


class QueueFlow:
    """The queue's handlers; :class:`ivr.flow.machine.CallFlow` provides the helpers."""

    state: CallState
    _config: FlowConfig
    _queue_timing: QueueTiming
    _tries: int
    _served: bool
    _playing: bool
    _hangup_reason: str | None
    _open_references: tuple[str, ...]
    _caller_number: str | None
    _priority: str
    _status: QueueStatus | None
    _next_offer_at: float
    _no_agents: bool
    _callback_digits: str
    _music: bool

    def _play(self, *steps_or_ids: str | list[str] | tuple[str, ...]) -> list[Action]:
        raise NotImplementedError

    def _barge_in(self) -> list[Action]:
        raise NotImplementedError

    def _set_state(self, state: CallState) -> None:
        raise NotImplementedError

    def _wait_for_input(self, seconds: float | None = None) -> list[Action]:
        raise NotImplementedError

    def _start_recording(self, purpose: str, max_seconds: float) -> list[Action]:
        raise NotImplementedError

    def _goodbye_after(self, *before: str) -> list[Action]:
        raise NotImplementedError

    def _enter_survey(self, *before: str) -> list[Action]:
        raise NotImplementedError

    # --- entering ------------------------------------------------------------------------------
    def _default_priority(self) -> str:
        return "repeat" if self._open_references else "normal"

    def _enter_queue(self, priority: str, *before: str, at_head: bool = False) -> list[Action]:
        self._priority = priority
        self._status = None
        self._no_agents = False
        self._tries = 0
        self._next_offer_at = self._queue_timing.offer_after_seconds
        self._set_state(CallState.QUEUE_INTRO)
        return [
            LogStep("queue_again" if at_head else "queue", priority),
            EnterQueue(priority, at_head),
            *self._play(*before, "queue_hold"),
        ]

    def _queue_event(self, event: Event) -> list[Action] | None:
        """Events every queue state handles alike (None: the state's own handler decides)."""
        if isinstance(event, AgentAnswered):
            self._set_state(CallState.CONNECTED)
            self._served = True
            actions: list[Action] = [CancelTimer()]
            if self._playing:
                self._playing = False
                actions.append(StopPlayback())  # no dead air, no prompt over the officer
            return [*actions, LogStep("agent_answered", None), ConnectAgent()]
        if isinstance(event, QueueStatus):
            self._status = event
            if self.state is CallState.QUEUE_INTRO and event.agents_logged_in == 0:
                self._no_agents = True  # nobody to wait for: the choices at once
                return [*self._barge_in(), *self._offer()]
            return [] if self.state is not CallState.QUEUE_WAITING else self._after_status()
        return None

    # --- waiting -------------------------------------------------------------------------------
    def _in_queue_intro(self, event: Event) -> list[Action]:
        handled = self._queue_event(event)
        if handled is not None:
            return handled
        if isinstance(event, PromptFinished):
            self._set_state(CallState.QUEUE_WAITING)
            return self._announce()
        return []  # keys during the hold prompt do nothing

    def _in_queue_waiting(self, event: Event) -> list[Action]:
        handled = self._queue_event(event)
        if handled is not None:
            return handled
        if isinstance(event, PromptFinished):
            # hold music between announcements (it does not touch the announce timer)
            self._playing = True
            return [Play((HOLD_MUSIC,))]
        if isinstance(event, Timeout):
            return [QueryQueue()]
        return []

    def _after_status(self) -> list[Action]:
        status = self._status
        if status is not None and (
            status.agents_logged_in == 0 or status.waited_seconds >= self._next_offer_at
        ):
            self._no_agents = status.agents_logged_in == 0
            return self._offer()
        return self._announce()

    def _announce(self) -> list[Action]:
        words: list[str] = []
        status = self._status
        if status is not None and status.position is not None:
            words += [*self._config.prompt("queue_position"), *sequence_for_number(status.position)]
            if status.estimate_seconds is not None:
                minutes = max(1, math.ceil(status.estimate_seconds / 60))
                words += [
                    *self._config.prompt("queue_estimate"),
                    *sequence_for_number(minutes),
                    "word_minute",
                ]
        words += self._config.prompt("queue_comfort")
        return [*self._play(words), SetTimer(self._queue_timing.announce_seconds)]

    # --- the offer: 1 keep waiting / 2 callback / 3 record --------------------------------------
    def _offer(self) -> list[Action]:
        self._set_state(CallState.QUEUE_OFFER)
        self._tries = 0
        step = "queue_no_agents" if self._no_agents else "queue_offer"
        return [LogStep(step), *self._play(step)]

    def _in_queue_offer(self, event: Event) -> list[Action]:
        handled = self._queue_event(event)
        if handled is not None:
            return handled
        if isinstance(event, PromptFinished):
            return self._wait_for_input()
        if isinstance(event, Digit) and event.key == "1" and not self._no_agents:
            return [LogStep("queue_keep_waiting", "1"), *self._barge_in(), *self._keep_waiting()]
        if isinstance(event, Digit) and event.key == "2":
            return [LogStep("queue_callback", "2"), *self._barge_in(), *self._callback_start()]
        if isinstance(event, Digit) and event.key == "3":
            return [LogStep("queue_record", "3"), *self._barge_in(), *self._record_instead()]
        if isinstance(event, Digit | Timeout):
            self._tries += 1
            why = "invalid" if isinstance(event, Digit) else "no_input"
            actions: list[Action] = [*self._barge_in(), LogStep(f"queue_offer:{why}")]
            if self._tries < self._config.max_tries:
                step = "queue_no_agents" if self._no_agents else "queue_offer"
                return actions + self._play(why, step)
            if self._no_agents:
                return actions + self._record_instead()  # heard, never an endless wait
            return actions + self._keep_waiting()
        return []

    def _keep_waiting(self) -> list[Action]:
        waited = self._status.waited_seconds if self._status else 0.0
        self._next_offer_at = waited + self._queue_timing.offer_after_seconds
        self._set_state(CallState.QUEUE_WAITING)
        return [QueryQueue()]

    def _record_instead(self) -> list[Action]:
        self._set_state(CallState.COMPLAINT_INTRO)
        return [LeaveQueue("recording"), *self._play("complaint_intro")]

    # --- a callback request ----------------------------------------------------------------
    def _callback_start(self) -> list[Action]:
        number = national_number(self._caller_number)
        if number and callback_number_ok(number):
            return self._confirm_number(number)
        return self._key_number()

    def _confirm_number(self, digits: str) -> list[Action]:
        self._callback_digits = digits
        self._set_state(CallState.CALLBACK_CONFIRM)
        self._tries = 0
        return self._play("callback_number_is", sequence_for_digits(digits), "callback_confirm")

    def _key_number(self, *before: str) -> list[Action]:
        self._callback_digits = ""
        self._set_state(CallState.CALLBACK_NUMBER)
        return self._play(*before, "callback_enter")

    def _in_callback_confirm(self, event: Event) -> list[Action]:
        handled = self._queue_event(event)
        if handled is not None:
            return handled
        if isinstance(event, PromptFinished):
            return self._wait_for_input()
        if isinstance(event, Digit) and event.key == "1":
            number = self._callback_digits
            self._served = True
            self._set_state(CallState.GOODBYE)
            self._hangup_reason = "completed"
            return [
                *self._barge_in(),
                LogStep("callback_requested", None),
                RequestQueueCallback(number),
                LeaveQueue("callback"),
                *self._play("callback_queued", "goodbye"),
            ]
        if isinstance(event, Digit) and event.key == "2":
            return [*self._barge_in(), *self._key_number()]
        if isinstance(event, Digit | Timeout):
            self._tries += 1
            if self._tries >= self._config.max_tries:
                return [*self._barge_in(), *self._keep_waiting()]
            why = "invalid" if isinstance(event, Digit) else "no_input"
            return [*self._barge_in(), *self._play(why, "callback_confirm")]
        return []

    def _in_callback_number(self, event: Event) -> list[Action]:
        handled = self._queue_event(event)
        if handled is not None:
            return handled
        if isinstance(event, PromptFinished):
            return self._wait_for_input(
                self._config.digit_timeout_seconds if self._callback_digits else None
            )
        if (isinstance(event, Digit) and event.key == "#") or isinstance(event, Timeout):
            digits, self._callback_digits = self._callback_digits, ""
            if callback_number_ok(digits):
                return [*self._barge_in(), *self._confirm_number(digits)]
            self._tries += 1
            if self._tries >= self._config.max_tries:
                return [*self._barge_in(), LogStep("callback_number:failed"), *self._keep_waiting()]
            return [*self._barge_in(), LogStep("callback_number:invalid"), *self._key_number(
                "callback_number_invalid"
            )]  # fmt: skip
        if isinstance(event, Digit) and event.key == "*":
            return [*self._barge_in(), *self._key_number()]
        if isinstance(event, Digit):
            self._callback_digits += event.key
            return [*self._barge_in(), SetTimer(self._config.digit_timeout_seconds)]
        return []

    # --- talking to the officer ----------------------------------------------------------------
    def _in_connected(self, event: Event) -> list[Action]:
        if not isinstance(event, ConversationOver):
            return []  # keys go to the agent through the bridge
        if event.by == "agent_lost":
            return [
                LogStep("agent_lost"),
                *self._enter_queue(self._priority, "queue_agent_lost", at_head=True),
            ]
        if event.by == "agent":
            return [LogStep("agent_hung_up"), *self._enter_survey()]
        if event.by == "requeue":  # the officer sent the caller back to the queue
            return [LogStep("transfer_queue"), *self._enter_queue(self._priority, at_head=True)]
        if event.by == "transferred":  # the hub's side ended the transferred call
            self._set_state(CallState.ENDED)
            self._hangup_reason = "transferred"
            return [LogStep("transferred"), HangUp("transferred")]
        self._set_state(CallState.ENDED)  # the caller hung up: the session ends the call
        return []

    @staticmethod
    def in_queue(state: CallState) -> bool:
        return state in QUEUE_STATES
