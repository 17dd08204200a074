"""The call flow state machine, event by event, with no socket, clock or database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from types import MappingProxyType

import pytest

from ivr.flow.events import (
    Action,
    CallerHungUp,
    CancelTimer,
    Digit,
    EnterQueue,
    Event,
    HangUp,
    LogStep,
    LookupStatus,
    Play,
    PromptFinished,
    RecordingEnded,
    RecordingStarted,
    SetTimer,
    SpeechStarted,
    Started,
    StartRecording,
    StatusResult,
    StopPlayback,
    StopRecording,
    StoreSurvey,
    Timeout,
)
from ivr.flow.machine import CallFlow, CallState
from ivr.flow.menu import FlowConfig, MenuAction
from ivr.prompts.speech import sequence_for_reference
from ticketing.reference import format_reference

REF = format_reference(69, 1234)  # a valid reference with its check digit
BAD_REF = REF[:-1] + str((int(REF[-1]) + 1) % 10)  # one digit mistyped


def plays(actions: list[Action]) -> list[str]:
    return [p for a in actions if isinstance(a, Play) for p in a.prompts]


def of_type(actions: list[Action], kind: type) -> list[Action]:
    return [a for a in actions if isinstance(a, kind)]


def steps(actions: list[Action]) -> list[str]:
    return [a.step for a in actions if isinstance(a, LogStep)]


def send(flow: CallFlow, *events: Event) -> list[Action]:
    out: list[Action] = []
    for event in events:
        out += flow.handle(event)
    return out


def keys(text: str) -> list[Event]:
    return [Digit(k) for k in text]


@pytest.fixture
def flow(flow_config: FlowConfig) -> CallFlow:
    return CallFlow(flow_config, "t-1")


def at_main_menu(flow: CallFlow, open_refs: tuple[str, ...] = ()) -> list[Action]:
    actions = send(flow, Started(open_refs), PromptFinished())
    assert flow.state is CallState.MAIN_MENU
    return actions


def recording(flow: CallFlow, reference: str | None = REF) -> list[Action]:
    at_main_menu(flow)
    actions = send(flow, Digit("1"), PromptFinished())
    assert flow.state is CallState.RECORDING
    return actions + send(flow, RecordingStarted(reference))


# --- greeting and menu ---------------------------------------------------------------------
def test_greeting_plays_notice_then_menu_and_waits(flow: CallFlow) -> None:
    first = send(flow, Started())
    assert plays(first) == ["welcome", "pdpa_notice", "main_menu"]
    assert steps(first) == ["greeting"]
    assert send(flow, PromptFinished()) == [SetTimer(6.0)]


def test_repeat_caller_hears_count_and_key_9_plays_newest_status(flow: CallFlow) -> None:
    first = send(flow, Started(("6900000018", "6900000026")))
    assert plays(first) == [
        "welcome",
        "pdpa_notice",
        "repeat_caller_has",
        "digit_2",
        "word_items",
        "repeat_caller_offer",
        "main_menu",
    ]
    actions = send(flow, Digit("9"))
    assert StopPlayback() in actions  # barge-in: the key cut the greeting
    assert of_type(actions, LookupStatus) == [LookupStatus("6900000018")]
    assert steps(actions) == ["repeat_caller_status"]


def test_key_9_without_open_tickets_is_invalid(flow: CallFlow) -> None:
    at_main_menu(flow)
    actions = send(flow, Digit("9"))
    assert plays(actions) == ["invalid_choice", "main_menu"]
    assert not of_type(actions, LookupStatus)


def test_invalid_key_repeats_the_menu_then_the_queue_after_three(flow: CallFlow) -> None:
    at_main_menu(flow)
    first = send(flow, Digit("7"))
    assert plays(first) == ["invalid_choice", "main_menu"]
    assert steps(first) == ["main_menu:invalid"]
    second = send(flow, PromptFinished(), Digit("8"))
    assert plays(second) == ["invalid_choice", "main_menu"]
    third = send(flow, PromptFinished(), Digit("#"))
    assert plays(third) == ["invalid_choice", "queue_hold"]  # an officer, not goodbye
    assert of_type(third, EnterQueue) == [EnterQueue("normal", False)]
    assert flow.state is CallState.QUEUE_INTRO
    assert flow.end_reason is None


def test_no_input_three_times_goes_to_the_queue(flow: CallFlow) -> None:
    at_main_menu(flow)
    for _ in range(2):
        actions = send(flow, Timeout())
        assert plays(actions) == ["no_input", "main_menu"]
        assert send(flow, PromptFinished()) == [SetTimer(6.0)]
    last = send(flow, Timeout())
    assert plays(last) == ["no_input", "queue_hold"]
    assert steps(last) == ["main_menu:no_input", "queue"]
    assert flow.state is CallState.QUEUE_INTRO


def test_key_during_a_prompt_barges_in(flow: CallFlow) -> None:
    send(flow, Started())  # greeting still playing
    actions = send(flow, Digit("3"))
    assert actions.index(StopPlayback()) < actions.index(Play(("info", "main_menu")))


def test_key_after_the_prompt_needs_no_stop(flow: CallFlow) -> None:
    at_main_menu(flow)
    actions = send(flow, Digit("3"))
    assert StopPlayback() not in actions
    assert CancelTimer() in actions  # the no-input timer is cancelled


def test_star_repeats_the_menu_without_counting_a_try(flow: CallFlow) -> None:
    at_main_menu(flow)
    for _ in range(5):
        assert plays(send(flow, Digit("*"), PromptFinished())) == ["main_menu"]
    assert flow.state is CallState.MAIN_MENU


def test_info_plays_and_returns_to_menu(flow: CallFlow) -> None:
    at_main_menu(flow)
    actions = send(flow, Digit("3"))
    assert plays(actions) == ["info", "main_menu"]
    assert steps(actions) == ["info"]
    assert flow.state is CallState.MAIN_MENU
    send(flow, CallerHungUp())
    assert not flow.abandoned  # information was given


def test_hangup_in_menu_is_abandoned(flow: CallFlow) -> None:
    at_main_menu(flow)
    assert send(flow, CallerHungUp()) == [CancelTimer()]
    assert flow.abandoned
    assert flow.end_reason is None
    assert send(flow, Digit("1")) == []  # nothing after the end


# --- complaint -----------------------------------------------------------------------------
def test_complaint_starts_recording_with_a_beep_after_the_intro(flow: CallFlow) -> None:
    at_main_menu(flow)
    intro = send(flow, Digit("1"))
    assert plays(intro) == ["complaint_intro"]
    assert steps(intro) == ["complaint"]
    start = send(flow, PromptFinished())
    assert of_type(start, StartRecording) == [StartRecording("complaint", 300.0, 8.0, 20.0, -40.0)]
    assert plays(start) == ["beep"]
    assert start.index(of_type(start, StartRecording)[0]) < start.index(Play(("beep",)))


def test_a_key_skips_the_intro_straight_to_recording(flow: CallFlow) -> None:
    at_main_menu(flow)
    send(flow, Digit("1"))
    actions = send(flow, Digit("5"))
    assert StopPlayback() in actions
    assert of_type(actions, StartRecording)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (Digit("#"), "key"),
        (RecordingEnded("silence"), "silence"),
        (RecordingEnded("max_length"), "max_length"),
        (RecordingEnded("no_speech"), "no_speech"),
    ],
)
def test_complaint_ends_and_reference_is_read_back(
    flow: CallFlow, event: Event, reason: str
) -> None:
    recording(flow)
    assert send(flow, Digit("5")) == []  # other keys while speaking are ignored
    actions = send(flow, event)
    assert actions[0] == StopRecording(reason, partial=False)
    assert plays(actions) == [
        "complaint_saved",
        *sequence_for_reference(REF),
        "reference_repeat_hint",
    ]
    assert flow.state is CallState.REFERENCE_READBACK


def test_star_repeats_the_reference_then_survey_and_rating(flow: CallFlow) -> None:
    recording(flow)
    send(flow, Digit("#"), PromptFinished())
    again = send(flow, Digit("*"))
    assert plays(again) == [*sequence_for_reference(REF), "reference_repeat_hint"]
    assert steps(again) == ["reference_repeat"]
    survey = send(flow, PromptFinished(), Timeout())
    assert plays(survey) == ["survey_question"]
    assert flow.state is CallState.SURVEY
    rated = send(flow, PromptFinished(), Digit("4"))
    assert of_type(rated, StoreSurvey) == [StoreSurvey(4)]
    assert plays(rated) == ["survey_thanks", "goodbye"]
    assert send(flow, PromptFinished()) == [HangUp("completed")]
    assert not flow.abandoned


@pytest.mark.parametrize("rating", [1, 2, 3, 4, 5])
def test_every_rating_1_to_5_is_stored(flow: CallFlow, rating: int) -> None:
    recording(flow)
    send(flow, Digit("#"), Digit("#"))  # '#' skips the read-back to the survey
    assert flow.state is CallState.SURVEY
    assert of_type(send(flow, Digit(str(rating))), StoreSurvey) == [StoreSurvey(rating)]


def test_invalid_survey_keys_then_goodbye_without_rating(flow: CallFlow) -> None:
    recording(flow)
    send(flow, Digit("#"), Digit("#"))
    first = send(flow, Digit("7"))
    assert plays(first) == ["invalid_choice", "survey_question"]
    send(flow, Digit("0"))
    last = send(flow, Timeout())
    assert not of_type(first + last, StoreSurvey)
    assert plays(last) == ["goodbye"]
    assert flow.state is CallState.GOODBYE


def test_star_in_survey_repeats_reference(flow: CallFlow) -> None:
    recording(flow)
    send(flow, Digit("#"), Digit("#"))
    assert plays(send(flow, Digit("*"))) == [*sequence_for_reference(REF), "survey_question"]


def test_no_draft_reference_still_thanks_and_surveys(flow: CallFlow) -> None:
    recording(flow, reference=None)
    actions = send(flow, Digit("#"))
    assert plays(actions) == ["complaint_saved_no_reference", "survey_question"]
    assert flow.state is CallState.SURVEY


def test_hangup_mid_recording_stops_it_as_partial(flow: CallFlow) -> None:
    recording(flow)
    send(flow, SpeechStarted())
    actions = send(flow, CallerHungUp())
    assert StopRecording("hangup", partial=True) in actions
    assert steps(actions) == ["complaint_partial"]
    assert flow.state is CallState.ENDED
    assert not flow.abandoned  # the caller spoke: a complaint, just without '#'


def test_hangup_mid_recording_before_speaking_is_abandoned(flow: CallFlow) -> None:
    recording(flow)
    assert StopRecording("hangup", partial=True) in send(flow, CallerHungUp())
    assert flow.abandoned


def test_survey_can_be_switched_off(flow_config: FlowConfig) -> None:
    from dataclasses import replace

    flow = CallFlow(replace(flow_config, survey=False))
    recording(flow)
    send(flow, Digit("#"))
    assert plays(send(flow, Digit("#"))) == ["goodbye"]


# --- callback ------------------------------------------------------------------------------
def test_callback_records_a_short_message_then_goodbye(flow_config: FlowConfig) -> None:
    menu = MappingProxyType({**flow_config.menu, "0": MenuAction.CALLBACK})  # the old key 0
    flow = CallFlow(replace(flow_config, menu=menu), "t-1")
    at_main_menu(flow)
    assert plays(send(flow, Digit("0"))) == ["callback_intro"]
    start = send(flow, PromptFinished())
    assert of_type(start, StartRecording) == [StartRecording("callback", 60.0, 8.0, 20.0, -40.0)]
    send(flow, RecordingStarted(REF))
    done = send(flow, Digit("#"))
    assert done[0] == StopRecording("key")
    assert plays(done) == ["callback_saved", "goodbye"]
    assert send(flow, PromptFinished()) == [HangUp("completed")]


# --- status --------------------------------------------------------------------------------
def status_entry(flow: CallFlow) -> None:
    at_main_menu(flow)
    assert plays(send(flow, Digit("2"))) == ["status_enter"]
    assert flow.state is CallState.STATUS_ENTRY


def test_valid_reference_is_looked_up_and_spoken(flow: CallFlow) -> None:
    status_entry(flow)
    actions = send(flow, *keys(REF), Digit("#"))
    assert of_type(actions, LookupStatus) == [LookupStatus(REF)]
    assert ("status_reference", REF) in [(a.step, a.digits) for a in of_type(actions, LogStep)]
    told = send(flow, StatusResult("found", REF, "routed", "agency_police", date(2026, 3, 5)))
    assert plays(told) == [
        "status_reference",
        *sequence_for_reference(REF),
        "pause",
        "status_with_agency",
        "agency_police",
        "word_since",
        "digit_5",
        "month_3",
        "word_year_be",
        "digit_2",
        "num_1000",
        "digit_5",
        "num_100",
        "digit_6",
        "num_10",
        "digit_9",
        "main_menu",
    ]
    assert flow.state is CallState.MAIN_MENU
    send(flow, CallerHungUp())
    assert not flow.abandoned


def test_resolved_status_says_when_without_agency(flow: CallFlow) -> None:
    status_entry(flow)
    send(flow, *keys(REF), Digit("#"))
    told = plays(send(flow, StatusResult("found", REF, "resolved", "agency_police", None)))
    assert "status_resolved" in told
    assert "agency_police" not in told
    assert "word_since" not in told


def test_digit_timeout_submits_what_was_keyed(flow: CallFlow) -> None:
    status_entry(flow)
    actions = send(flow, *keys(REF))
    assert actions[-1] == SetTimer(6.0)
    assert of_type(send(flow, Timeout()), LookupStatus) == [LookupStatus(REF)]


def test_mistyped_reference_fails_the_check_digit_and_asks_again(flow: CallFlow) -> None:
    status_entry(flow)
    actions = send(flow, *keys(BAD_REF), Digit("#"))
    assert not of_type(actions, LookupStatus)
    assert plays(actions) == ["status_invalid", "status_enter"]
    assert flow.state is CallState.STATUS_ENTRY
    retry = send(flow, *keys(REF), Digit("#"))
    assert of_type(retry, LookupStatus) == [LookupStatus(REF)]


def test_three_bad_tries_go_back_to_the_menu(flow: CallFlow) -> None:
    status_entry(flow)
    send(flow, *keys(BAD_REF), Digit("#"))
    send(flow, *keys("12"), Digit("#"))
    last = send(flow, *keys(BAD_REF), Digit("#"))
    assert plays(last) == ["status_too_many", "main_menu"]
    assert flow.state is CallState.MAIN_MENU


def test_unknown_reference_is_said_and_counts_as_a_try(flow: CallFlow) -> None:
    status_entry(flow)
    send(flow, *keys(REF), Digit("#"))
    actions = send(flow, StatusResult("unknown", REF))
    assert plays(actions) == ["status_unknown", "status_enter"]
    assert flow.state is CallState.STATUS_ENTRY


def test_lookup_error_apologises_and_returns_to_menu(flow: CallFlow) -> None:
    status_entry(flow)
    send(flow, *keys(REF), Digit("#"))
    assert plays(send(flow, StatusResult("error", REF))) == ["status_error", "main_menu"]


def test_star_restarts_reference_entry(flow: CallFlow) -> None:
    status_entry(flow)
    send(flow, *keys("999"), Digit("*"))
    assert of_type(send(flow, *keys(REF), Digit("#")), LookupStatus) == [LookupStatus(REF)]


def test_every_state_change_is_logged(flow: CallFlow, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="ivr.flow.machine")
    at_main_menu(flow)
    send(flow, Digit("1"))
    assert "call t-1: idle -> main_menu" in caplog.text
    assert "call t-1: main_menu -> complaint_intro" in caplog.text
