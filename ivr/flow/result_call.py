"""The result call's flow (issue 12): a pure state machine, like the inbound call flow.

The dialler feeds it events (``Greeting`` once the answering side is classified, ``Digit``,
``Timeout``, ``PromptFinished``, ``CallerHungUp``) and carries out its actions (``Play``,
``SetTimer``, ``HangUp``); ``outcome`` and ``rating`` say what the call achieved.

- A person: ศูนย์ดำรงธรรม 1567 calling, the reference, the status, the agency and the kind of
  result, then "press 1-5 to rate, 0 to speak to an officer, * to hear it again". 1-5: ``rated``;
  0: ``wants_officer``; * replays; 7 (any other key) or nothing: one re-prompt, then goodbye
  (``answered``). A hang-up before a choice: ``answered`` without a rating.
- An answering machine (a long greeting) or silence: a short message with the reference and the
  status-line number after the greeting ends: ``message_left``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from ivr.flow.events import (
    Action,
    CallerHungUp,
    CancelTimer,
    Digit,
    HangUp,
    Play,
    PromptFinished,
    SetTimer,
    StopPlayback,
    Timeout,
)
from ivr.prompts.speech import sequence_for_date, sequence_for_digits, sequence_for_reference
from ivr.prompts.speech import status_prompt as status_prompt_id

RESULT_TYPE_PROMPTS = {
    "resolved": "result_type_resolved",
    "referred": "result_type_referred",
    "cannot_be_solved": "result_type_cannot_be_solved",
    "withdrawn": "result_type_withdrawn",
}
RATING_KEYS = frozenset("12345")
OFFICER_KEY = "0"
REPEAT_KEY = "*"


@dataclass(frozen=True)
class Greeting:
    """How the answering side sounded: 'human', 'machine' or 'silence'."""

    kind: str


@dataclass(frozen=True)
class ResultCallInfo:
    reference: str
    status: str
    agency_prompt: str | None
    resolution_type: str | None
    trigger: str = "result"  # or 'progress'
    since: date | None = None
    status_line_number: str = "1567"


class ResultCallState(enum.Enum):
    DETECTING = "detecting"
    ANNOUNCING = "announcing"
    MENU = "menu"
    MESSAGE = "message"
    GOODBYE = "goodbye"
    ENDED = "ended"


ResultEvent = Greeting | Digit | Timeout | PromptFinished | CallerHungUp


def announcement(info: ResultCallInfo) -> list[str]:
    intro = "progress_intro" if info.trigger == "progress" else "result_intro"
    words = [intro, "status_reference", *sequence_for_reference(info.reference), "pause"]
    words.append(status_prompt_id(info.status))
    if info.agency_prompt:
        words += ["word_by", info.agency_prompt]
    if info.trigger != "progress" and info.resolution_type in RESULT_TYPE_PROMPTS:
        words += ["pause", "word_result", RESULT_TYPE_PROMPTS[info.resolution_type]]
    if info.trigger == "progress":
        words += ["pause", "progress_reported"]
    if info.since is not None:
        words += ["word_on", *sequence_for_date(info.since)]
    return words


def message(info: ResultCallInfo) -> list[str]:
    """What an answering machine keeps: who called, the reference, where to hear the result."""
    said = "message_progress" if info.trigger == "progress" else "message_result"
    return [
        "message_intro",
        *sequence_for_reference(info.reference),
        "pause",
        said,
        *sequence_for_digits(info.status_line_number),
        "message_howto",
    ]


class ResultCallFlow:
    def __init__(
        self, info: ResultCallInfo, *, menu_timeout: float = 7.0, max_repeats: int = 3
    ) -> None:
        self.info = info
        self.state = ResultCallState.DETECTING
        self.outcome: str | None = None
        self.rating: int | None = None
        self._menu_timeout = menu_timeout
        self._max_repeats = max_repeats
        self._repeats = 0
        self._reprompted = False

    def handle(self, event: ResultEvent) -> list[Action]:
        if self.state is ResultCallState.ENDED:
            return []
        if isinstance(event, CallerHungUp):
            return self._hung_up()
        handler = {
            ResultCallState.DETECTING: self._detecting,
            ResultCallState.ANNOUNCING: self._announcing,
            ResultCallState.MENU: self._menu,
            ResultCallState.MESSAGE: self._message,
            ResultCallState.GOODBYE: self._goodbye,
        }[self.state]
        return handler(event)

    # --- states -----------------------------------------------------------------------------
    def _detecting(self, event: ResultEvent) -> list[Action]:
        if isinstance(event, Greeting):
            if event.kind == "human":
                self.outcome = "answered"
                return self._announce()
            self.state = ResultCallState.MESSAGE
            self.outcome = "message_left"
            return [Play(tuple(message(self.info)))]
        if isinstance(event, Digit):  # a key is a person
            self.outcome = "answered"
            return self._announce()
        return []

    def _announcing(self, event: ResultEvent) -> list[Action]:
        if isinstance(event, PromptFinished):
            self.state = ResultCallState.MENU
            return [Play(("result_menu",))]
        if isinstance(event, Digit):
            return self._choice(event.key)
        return []

    def _menu(self, event: ResultEvent) -> list[Action]:
        if isinstance(event, PromptFinished):  # the wait for a key starts after the question
            return [SetTimer(self._menu_timeout)]
        if isinstance(event, Digit):
            return self._choice(event.key)
        if isinstance(event, Timeout):
            return self._retry("no_input")
        return []

    def _message(self, event: ResultEvent) -> list[Action]:
        if isinstance(event, PromptFinished):
            self.state = ResultCallState.ENDED
            return [HangUp("message_left")]
        return []

    def _goodbye(self, event: ResultEvent) -> list[Action]:
        if isinstance(event, PromptFinished):
            self.state = ResultCallState.ENDED
            return [HangUp("completed")]
        return []

    # --- helpers ----------------------------------------------------------------------------
    def _announce(self) -> list[Action]:
        self.state = ResultCallState.ANNOUNCING
        return [CancelTimer(), Play(tuple(announcement(self.info)))]

    def _choice(self, key: str) -> list[Action]:
        if key in RATING_KEYS:
            self.outcome, self.rating = "rated", int(key)
            return self._bye(("survey_thanks", "goodbye"))
        if key == OFFICER_KEY:
            self.outcome = "wants_officer"
            return self._bye(("result_officer", "goodbye"))
        if key == REPEAT_KEY and self._repeats < self._max_repeats:
            self._repeats += 1
            return [StopPlayback(), *self._announce()]
        return [StopPlayback(), *self._retry("invalid_choice")]

    def _retry(self, why: str) -> list[Action]:
        if self._reprompted:
            return self._bye(("goodbye",))
        self._reprompted = True
        self.state = ResultCallState.MENU
        return [CancelTimer(), Play((why, "result_menu"))]

    def _bye(self, prompts: tuple[str, ...]) -> list[Action]:
        self.state = ResultCallState.GOODBYE
        return [CancelTimer(), StopPlayback(), Play(prompts)]

    def _hung_up(self) -> list[Action]:
        if self.outcome is None:
            self.outcome = "answered"  # they picked up and left before hearing it
        self.state = ResultCallState.ENDED
        return [CancelTimer()]
