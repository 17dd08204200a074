"""The call flow as a pure state machine: one event in, a list of actions out.

No I/O, no clock: timers are requested with SetTimer and come back as Timeout; recording, status
look-ups and the survey are actions the session runner carries out. Every state change goes
through ``_set_state`` so the log shows each call's path.
"""

from __future__ import annotations

import logging

from ivr.flow.events import (
    Action,
    CallerHungUp,
    CancelTimer,
    Digit,
    Event,
    HangUp,
    LogStep,
    LookupStatus,
    Play,
    PromptFinished,
    QueueStatus,
    RecordingEnded,
    RecordingFailed,
    RecordingStarted,
    RequestCallback,
    SetTimer,
    SpeechStarted,
    Started,
    StartRecording,
    StatusResult,
    StopPlayback,
    StopRecording,
    StoreSurvey,
    Timeout,
    UrgentHeard,
)
from ivr.flow.menu import FlowConfig, MenuAction
from ivr.flow.queue_states import QueueFlow, QueueTiming
from ivr.flow.states import CallState as CallState
from ivr.prompts.speech import (
    sequence_for_date,
    sequence_for_number,
    sequence_for_reference,
    status_prompt,
)
from ticketing.reference import is_valid_reference

log = logging.getLogger(__name__)

# Statuses where the ticket sits with an agency, so the agency is named.
_AGENCY_STATUSES = frozenset({"routed", "in_progress", "reopened"})
# Statuses whose date is when it happened ("on"), not since when it has been so.
_FINISHED_STATUSES = frozenset({"resolved", "closed", "rejected", "duplicate"})


class CallFlow(QueueFlow):
    def __init__(
        self, config: FlowConfig, call_id: str = "", queue: QueueTiming | None = None
    ) -> None:
        self._config = config
        self._queue_timing = queue or QueueTiming()
        self._caller_number: str | None = None
        self._priority = "normal"
        self._status: QueueStatus | None = None
        self._next_offer_at = self._queue_timing.offer_after_seconds
        self._no_agents = False
        self._callback_digits = ""
        self._call_id = call_id
        self.state = CallState.IDLE
        self._open_references: tuple[str, ...] = ()
        self._tries = 0  # no or invalid input at the current prompt
        self._reference_tries = 0
        self._digits = ""  # reference being keyed
        self._playing = False
        self._purpose = ""  # of the running recording
        self._reference: str | None = None  # the draft of this call's complaint
        self._speech_heard = False
        self._served = False  # the caller got what they called for (complaint, status, ...)
        self._hangup_reason: str | None = None
        self.caller_hung_up = False

    # --- outcome, for the call record --------------------------------------------------------
    @property
    def abandoned(self) -> bool:
        """The caller left before any service was completed (a complaint with speech counts even
        when the caller hung up instead of pressing #)."""
        return self.caller_hung_up and not self._served

    @property
    def end_reason(self) -> str | None:
        """Why we hung up ('completed', 'no_input'); None when the caller left first."""
        return self._hangup_reason

    @property
    def reference(self) -> str | None:
        return self._reference

    # --- the one entry point -----------------------------------------------------------------
    def handle(self, event: Event) -> list[Action]:
        if self.state is CallState.ENDED:
            return []
        if isinstance(event, CallerHungUp):
            return self._on_hangup()
        if isinstance(event, PromptFinished):
            self._playing = False
        handler = getattr(self, f"_in_{self.state.value}")
        actions: list[Action] = handler(event)
        return actions

    def _set_state(self, state: CallState) -> None:
        if state is not self.state:
            log.info("call %s: %s -> %s", self._call_id, self.state.value, state.value)
            self.state = state

    # --- helpers -----------------------------------------------------------------------------
    def _play(self, *steps_or_ids: str | list[str] | tuple[str, ...]) -> list[Action]:
        """Stop what is playing (barge-in) and play steps of the menu file and literal id lists."""
        ids: list[str] = []
        for item in steps_or_ids:
            ids += self._config.prompt(item) if isinstance(item, str) else list(item)
        actions: list[Action] = [CancelTimer()]
        if self._playing:
            actions.append(StopPlayback())
        self._playing = True
        actions.append(Play(tuple(ids)))
        return actions

    def _barge_in(self) -> list[Action]:
        if not self._playing:
            return [CancelTimer()]
        self._playing = False
        return [CancelTimer(), StopPlayback()]

    def _wait_for_input(self, seconds: float | None = None) -> list[Action]:
        return [SetTimer(seconds or self._config.input_timeout_seconds)]

    # --- states ------------------------------------------------------------------------------
    def _in_idle(self, event: Event) -> list[Action]:
        if not isinstance(event, Started):
            return []
        self._open_references = event.open_references if self._config.repeat_caller else ()
        self._caller_number = event.caller_number
        self._set_state(CallState.MAIN_MENU)
        steps: list[str | list[str]] = ["greeting"]
        if self._open_references:
            count = sequence_for_number(len(self._open_references))
            steps += ["repeat_caller", [*count, "word_items"], "repeat_caller_offer"]
        steps.append("main_menu")
        return [LogStep("greeting"), *self._play(*steps)]

    def _enter_main_menu(self, *before: str | list[str]) -> list[Action]:
        self._set_state(CallState.MAIN_MENU)
        self._tries = 0
        return [*self._play(*before, "main_menu")]

    def _in_main_menu(self, event: Event) -> list[Action]:
        if isinstance(event, PromptFinished):
            return self._wait_for_input()
        if isinstance(event, Timeout):
            return self._retry("main_menu", "no_input", None)
        if isinstance(event, StatusResult):
            return []
        if not isinstance(event, Digit):
            return []
        key = event.key
        action = self._config.menu.get(key)
        if action is None and self._open_references and key == self._config.repeat_caller_key:
            return [
                LogStep("repeat_caller_status", key),
                *self._barge_in(),
                *self._start_lookup(self._open_references[0]),
            ]
        if action is None:
            return [*self._barge_in(), *self._retry("main_menu", "invalid", key)]
        actions: list[Action] = [LogStep(action.value, key), *self._barge_in()]
        if action is MenuAction.COMPLAINT:
            self._set_state(CallState.COMPLAINT_INTRO)
            return actions + self._play("complaint_intro")
        if action is MenuAction.OFFICER:
            return actions + self._enter_queue(self._default_priority())
        if action is MenuAction.CALLBACK:
            self._set_state(CallState.CALLBACK_INTRO)
            return actions + self._play("callback_intro")
        if action is MenuAction.STATUS:
            return actions + self._enter_status_entry()
        if action is MenuAction.INFO:
            self._served = True
            return actions + self._enter_main_menu("info")
        return actions + self._enter_main_menu()  # REPEAT

    def _retry(self, step: str, why: str, key: str | None) -> list[Action]:
        """No or invalid input: say so and repeat, or say goodbye after the limit."""
        self._tries += 1
        actions: list[Action] = [LogStep(f"{step}:{why}", key)]
        if self._tries >= self._config.max_tries:
            # no goodbye: the elderly and people in distress are the ones who press no keys
            return actions + self._enter_queue(self._default_priority(), why)
        return actions + self._play(why, step)

    # complaint and callback ------------------------------------------------------------------
    def _in_complaint_intro(self, event: Event) -> list[Action]:
        # The intro (which repeats that the call is recorded) ends, or a key skips it.
        if isinstance(event, PromptFinished | Digit):
            return self._start_recording("complaint", self._config.recording.max_seconds)
        return []

    def _in_callback_intro(self, event: Event) -> list[Action]:
        if isinstance(event, PromptFinished | Digit):
            return self._start_recording("callback", self._config.recording.callback_max_seconds)
        return []

    def _start_recording(self, purpose: str, max_seconds: float) -> list[Action]:
        limits = self._config.recording
        self._purpose = purpose
        self._speech_heard = False
        self._set_state(CallState.RECORDING)
        return [
            *self._barge_in(),
            LogStep(f"{purpose}_recording"),
            StartRecording(
                purpose=purpose,
                max_seconds=max_seconds,
                silence_seconds=limits.silence_seconds,
                no_speech_seconds=limits.no_speech_seconds,
                speech_level_dbfs=limits.speech_level_dbfs,
            ),
            *self._play(["beep"]),
        ]

    def _in_recording(self, event: Event) -> list[Action]:
        if isinstance(event, RecordingStarted):
            self._reference = event.reference
            return []
        if isinstance(event, SpeechStarted):
            self._speech_heard = True
            return []
        if isinstance(event, Digit) and event.key == "#":
            return self._stop_recording("key")
        if isinstance(event, UrgentHeard) or (isinstance(event, Digit) and event.key == "0"):
            # danger: stop recording (kept on the draft), say so, the head of the queue
            why = "urgent_key" if isinstance(event, Digit) else "urgent_heard"
            return [
                StopRecording("urgent"),
                LogStep(why),
                *self._enter_queue("urgent", "urgent_notice"),
            ]
        if isinstance(event, RecordingEnded):
            return self._stop_recording(event.reason)
        if isinstance(event, RecordingFailed):
            return self._recording_failed(event.reason)
        return []  # other keys while speaking are ignored: keypad noise, not a choice

    def _recording_failed(self, reason: str) -> list[Action]:
        """Storage failed: no reference is read (nothing was saved); a callback is offered."""
        log.warning("call %s: recording failed (%s): caller told", self._call_id, reason)
        self._set_state(CallState.RECORDING_FAILED)
        self._tries = 0
        return [
            StopRecording("storage_failed", partial=True),
            LogStep(f"{self._purpose}_recording_failed"),
            *self._play("recording_failed"),
        ]

    def _in_recording_failed(self, event: Event) -> list[Action]:
        if isinstance(event, PromptFinished):
            return self._wait_for_input()
        if isinstance(event, Digit) and event.key == "1":
            self._served = True
            self._set_state(CallState.GOODBYE)
            self._hangup_reason = "completed"
            return [
                *self._barge_in(),
                LogStep("callback_after_failure", "1"),
                RequestCallback(),
                *self._play("callback_promised", "goodbye"),
            ]
        if isinstance(event, Digit | Timeout):
            self._tries += 1
            if self._tries >= self._config.max_tries:
                return [*self._barge_in(), *self._goodbye_after()]
            why = "invalid" if isinstance(event, Digit) else "no_input"
            return [*self._barge_in(), *self._play(why, "recording_failed")]
        return []

    def _stop_recording(self, reason: str) -> list[Action]:
        self._served = True
        actions: list[Action] = [StopRecording(reason), LogStep(f"{self._purpose}_recorded")]
        if self._purpose == "callback":
            self._set_state(CallState.GOODBYE)
            self._hangup_reason = "completed"
            return actions + self._play("callback_saved", "goodbye")
        if self._reference is None:
            return actions + self._enter_survey("complaint_saved_no_reference")
        self._set_state(CallState.REFERENCE_READBACK)
        return actions + self._play(
            "complaint_saved", sequence_for_reference(self._reference), "reference_repeat_hint"
        )

    def _in_reference_readback(self, event: Event) -> list[Action]:
        if isinstance(event, PromptFinished):
            return self._wait_for_input()
        if isinstance(event, Digit) and event.key == "*" and self._reference:
            return [
                LogStep("reference_repeat", "*"),
                *self._play(sequence_for_reference(self._reference), "reference_repeat_hint"),
            ]
        if isinstance(event, Digit | Timeout):
            return [*self._barge_in(), *self._enter_survey()]
        return []

    def _enter_survey(self, *before: str) -> list[Action]:
        if not self._config.survey:
            return self._goodbye_after(*before)
        self._set_state(CallState.SURVEY)
        self._tries = 0
        return [LogStep("survey"), *self._play(*before, "survey_question")]

    def _goodbye_after(self, *before: str) -> list[Action]:
        self._set_state(CallState.GOODBYE)
        self._hangup_reason = "completed"
        return [LogStep("goodbye"), *self._play(*before, "goodbye")]

    def _in_survey(self, event: Event) -> list[Action]:
        if isinstance(event, PromptFinished):
            return self._wait_for_input()
        if isinstance(event, Digit) and event.key in "12345":
            return [
                *self._barge_in(),
                LogStep("survey_rating", event.key),
                StoreSurvey(int(event.key)),
                *self._goodbye_after("survey_thanks"),
            ]
        if isinstance(event, Digit) and event.key == "*" and self._reference:
            return self._play(sequence_for_reference(self._reference), "survey_question")
        if isinstance(event, Digit | Timeout):
            # Rating is optional: after the limit the caller simply hears goodbye.
            self._tries += 1
            key = event.key if isinstance(event, Digit) else None
            why = "invalid" if isinstance(event, Digit) else "no_input"
            actions: list[Action] = [*self._barge_in(), LogStep(f"survey:{why}", key)]
            if self._tries >= self._config.max_tries:
                return actions + self._goodbye_after()
            return actions + self._play(why, "survey_question")
        return []

    # status ----------------------------------------------------------------------------------
    def _enter_status_entry(self, *before: str) -> list[Action]:
        self._set_state(CallState.STATUS_ENTRY)
        self._digits = ""
        return self._play(*before, "status_enter")

    def _in_status_entry(self, event: Event) -> list[Action]:
        if isinstance(event, PromptFinished):
            return self._wait_for_input(
                self._config.digit_timeout_seconds if self._digits else None
            )
        if isinstance(event, Digit):
            actions = self._barge_in()
            if event.key == "#":
                return actions + self._submit_reference()
            if event.key == "*":  # start over
                self._digits = ""
                return actions + self._play("status_enter")
            self._digits += event.key
            return [*actions, SetTimer(self._config.digit_timeout_seconds)]
        if isinstance(event, Timeout):
            if self._digits:
                return self._submit_reference()
            return self._reference_failed("no_input", "no_input")
        return []

    def _submit_reference(self) -> list[Action]:
        digits, self._digits = self._digits, ""
        if not is_valid_reference(digits):
            return [
                LogStep("status_reference:invalid", digits),
                *self._reference_failed("invalid", "status_invalid"),
            ]
        return [LogStep("status_reference", digits), *self._start_lookup(digits)]

    def _reference_failed(self, why: str, prompt_step: str) -> list[Action]:
        self._reference_tries += 1
        if self._reference_tries >= self._config.reference_tries:
            self._reference_tries = 0
            return [LogStep(f"status:{why}:too_many"), *self._enter_main_menu("status_too_many")]
        return self._enter_status_entry(prompt_step)

    def _start_lookup(self, reference: str) -> list[Action]:
        self._set_state(CallState.STATUS_LOOKUP)
        return [CancelTimer(), LookupStatus(reference)]

    def _in_status_lookup(self, event: Event) -> list[Action]:
        if not isinstance(event, StatusResult):
            return []
        if event.outcome == "unknown":
            return [LogStep("status:unknown"), *self._reference_failed("unknown", "status_unknown")]
        if event.outcome != "found":
            return [LogStep("status:error"), *self._enter_main_menu("status_error")]
        self._served = True
        self._reference_tries = 0
        told = LogStep(f"status_told:{event.status}")
        return [told, *self._enter_main_menu(self._speak(event))]

    def _speak(self, result: StatusResult) -> list[str]:
        words = [
            *self._config.prompt("status_reference"),
            *sequence_for_reference(result.reference),
            "pause",
            status_prompt(result.status),
        ]
        if result.status in _AGENCY_STATUSES and result.agency_prompt:
            words.append(result.agency_prompt)
        if result.since is not None:
            word = "word_on" if result.status in _FINISHED_STATUSES else "word_since"
            words += [word, *sequence_for_date(result.since)]
        if result.result_prompt:  # what the agency found (issue 12)
            words += ["pause", "word_result", result.result_prompt]
        elif result.progress_on is not None:
            reported = sequence_for_date(result.progress_on)
            words += ["pause", "progress_reported", "word_on", *reported]
        return words

    # the end --------------------------------------------------------------------------------
    def _in_goodbye(self, event: Event) -> list[Action]:
        if isinstance(event, PromptFinished):
            self._set_state(CallState.ENDED)
            return [HangUp(self._hangup_reason or "completed")]
        return []  # keys during goodbye do not cut it short

    def _in_ended(self, event: Event) -> list[Action]:
        return []

    def _on_hangup(self) -> list[Action]:
        self.caller_hung_up = self._hangup_reason is None
        actions: list[Action] = [CancelTimer()]
        if self.state is CallState.RECORDING:
            # Speech before the hang-up is a complaint (many callers hang up instead of #).
            self._served = self._served or self._speech_heard
            actions += [StopRecording("hangup", partial=True), LogStep(f"{self._purpose}_partial")]
        self._set_state(CallState.ENDED)
        return actions
