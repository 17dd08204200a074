"""The result call's flow, event by event (no socket, no clock): rate, officer, repeat, a wrong
key, no key, an early hang-up, an answering machine; every prompt it plays exists."""

from __future__ import annotations

from datetime import date

import pytest

from ivr.flow.events import CallerHungUp, Digit, HangUp, Play, PromptFinished, SetTimer, Timeout
from ivr.flow.result_call import (
    Greeting,
    ResultCallFlow,
    ResultCallInfo,
    ResultCallState,
    announcement,
    message,
)
from ivr.prompts.manifest import load_manifest, manifest_path

INFO = ResultCallInfo(
    reference="690000123",
    status="resolved",
    agency_prompt="agency_police",
    resolution_type="referred",
    since=date(2026, 12, 1),
)


def _plays(actions: list[object]) -> list[tuple[str, ...]]:
    return [a.prompts for a in actions if isinstance(a, Play)]


def _answered() -> ResultCallFlow:
    flow = ResultCallFlow(INFO)
    [[*words]] = _plays(flow.handle(Greeting("human")))
    assert words[0] == "result_intro" and "result_type_referred" in words
    assert "agency_police" in words and "digit_1" in words
    assert _plays(flow.handle(PromptFinished())) == [("result_menu",)]
    assert SetTimer(7.0) in flow.handle(PromptFinished())
    return flow


def test_every_prompt_of_the_result_call_is_in_the_manifest() -> None:
    known = load_manifest(manifest_path(None)).ids | {"pause", "beep"}
    progress = ResultCallInfo("690000123", "in_progress", "agency_generic", None, "progress")
    words = {
        *announcement(INFO),
        *announcement(progress),
        *message(INFO),
        *message(progress),
        *(f"result_type_{t}" for t in ("resolved", "referred", "cannot_be_solved", "withdrawn")),
        "result_menu",
        "result_officer",
        "survey_thanks",
        "goodbye",
        "no_input",
        "invalid_choice",
    }
    assert words - known == set()


@pytest.mark.parametrize("key", list("12345"))
def test_a_key_1_to_5_is_the_rating(key: str) -> None:
    flow = _answered()
    assert _plays(flow.handle(Digit(key))) == [("survey_thanks", "goodbye")]
    assert flow.handle(PromptFinished()) == [HangUp("completed")]
    assert (flow.outcome, flow.rating, flow.state) == ("rated", int(key), ResultCallState.ENDED)


def test_a_rating_may_interrupt_the_announcement() -> None:
    flow = ResultCallFlow(INFO)
    flow.handle(Greeting("human"))
    flow.handle(Digit("4"))
    assert (flow.outcome, flow.rating) == ("rated", 4)


def test_zero_asks_for_an_officer() -> None:
    flow = _answered()
    assert _plays(flow.handle(Digit("0"))) == [("result_officer", "goodbye")]
    assert (flow.outcome, flow.rating) == ("wants_officer", None)


def test_star_repeats_the_announcement() -> None:
    flow = _answered()
    [[*words]] = _plays(flow.handle(Digit("*")))
    assert words == announcement(INFO)
    assert flow.state is ResultCallState.ANNOUNCING


@pytest.mark.parametrize("first", [Digit("7"), Timeout()])
def test_a_wrong_key_or_nothing_re_prompts_once_then_goodbye(first: object) -> None:
    flow = _answered()
    [[why, menu]] = _plays(flow.handle(first))  # type: ignore[arg-type]
    assert (why, menu) in (("invalid_choice", "result_menu"), ("no_input", "result_menu"))
    flow.handle(PromptFinished())
    assert _plays(flow.handle(Timeout())) == [("goodbye",)]
    assert flow.handle(PromptFinished()) == [HangUp("completed")]
    assert (flow.outcome, flow.rating) == ("answered", None)


def test_a_hang_up_during_the_announcement_is_answered_without_rating() -> None:
    flow = ResultCallFlow(INFO)
    flow.handle(Greeting("human"))
    flow.handle(CallerHungUp())
    assert (flow.outcome, flow.rating, flow.state) == ("answered", None, ResultCallState.ENDED)


@pytest.mark.parametrize("kind", ["machine", "silence"])
def test_a_machine_or_silence_gets_a_short_message(kind: str) -> None:
    flow = ResultCallFlow(INFO)
    [[*words]] = _plays(flow.handle(Greeting(kind)))
    assert words[0] == "message_intro" and words[-1] == "message_howto"
    assert words[-5:-1] == ["digit_1", "digit_5", "digit_6", "digit_7"]  # the status line
    assert flow.handle(PromptFinished()) == [HangUp("message_left")]
    assert flow.outcome == "message_left"
