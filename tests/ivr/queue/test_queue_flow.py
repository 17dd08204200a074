"""The call flow's queue states, event by event (no socket, clock or database)."""

from __future__ import annotations

import pytest

from ivr.flow.events import (
    Action,
    AgentAnswered,
    CallerHungUp,
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
    RecordingStarted,
    RequestQueueCallback,
    SetTimer,
    Started,
    StartRecording,
    StopPlayback,
    StopRecording,
    Timeout,
    UrgentHeard,
)
from ivr.flow.machine import CallFlow, CallState
from ivr.flow.menu import FlowConfig
from ivr.flow.queue_states import HOLD_MUSIC, QueueTiming, callback_number_ok, national_number


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


def status(
    position: int = 2, estimate: float | None = 100, agents: int = 3, waited: float = 0
) -> QueueStatus:
    return QueueStatus(position, estimate, agents, waited)


TIMING = QueueTiming(announce_seconds=40, offer_after_seconds=90)


@pytest.fixture
def flow(flow_config: FlowConfig) -> CallFlow:
    return CallFlow(flow_config, "q-1", TIMING)


def queued(
    flow: CallFlow, caller: str | None = "0812345678", refs: tuple[str, ...] = ()
) -> list[Action]:
    send(flow, Started(refs, caller), PromptFinished())
    actions = send(flow, Digit("0"))
    assert flow.state is CallState.QUEUE_INTRO
    return actions


def test_key_0_joins_the_queue_and_hears_position_and_estimate(flow: CallFlow) -> None:
    actions = queued(flow)
    assert of_type(actions, EnterQueue) == [EnterQueue("normal", False)]
    assert steps(actions) == ["officer", "queue"]
    assert plays(actions) == ["queue_hold"]
    assert send(flow, status()) == []  # known, said when the hold prompt ends
    announce = send(flow, PromptFinished())
    assert plays(announce) == [
        "queue_position", "digit_2", "queue_estimate", "digit_2", "word_minute", "queue_comfort"
    ]  # fmt: skip
    assert SetTimer(40) in announce
    assert flow.state is CallState.QUEUE_WAITING
    music = send(flow, PromptFinished())
    assert music == [Play((HOLD_MUSIC,))]  # never dead air; the announce timer runs on
    assert send(flow, Timeout()) == [QueryQueue()]
    again = send(flow, status(position=1, estimate=None, waited=40))
    assert plays(again) == ["queue_position", "digit_1", "queue_comfort"]  # no estimate: unknown


def test_a_repeat_caller_queues_as_repeat(flow: CallFlow) -> None:
    actions = queued(flow, refs=("6900000018",))
    assert of_type(actions, EnterQueue) == [EnterQueue("repeat", False)]


def test_an_agent_answering_mid_prompt_is_connected_at_once(flow: CallFlow) -> None:
    queued(flow)
    send(flow, status())
    actions = send(flow, AgentAnswered("somchai"))
    assert StopPlayback() in actions and actions[-1] == ConnectAgent()
    assert flow.state is CallState.CONNECTED
    survey = send(flow, ConversationOver("agent"))
    assert plays(survey) == ["survey_question"]
    assert not flow.abandoned


def test_the_caller_hanging_up_while_connected_is_served(flow: CallFlow) -> None:
    queued(flow)
    send(flow, AgentAnswered("somchai"))
    send(flow, CallerHungUp())
    assert flow.state is CallState.ENDED and not flow.abandoned


def test_hanging_up_in_the_queue_is_abandoned(flow: CallFlow) -> None:
    queued(flow)
    send(flow, status(), PromptFinished(), CallerHungUp())
    assert flow.abandoned


def test_agent_lost_puts_the_caller_back_at_the_head(flow: CallFlow) -> None:
    queued(flow)
    send(flow, AgentAnswered("somchai"))
    actions = send(flow, ConversationOver("agent_lost"))
    assert of_type(actions, EnterQueue) == [EnterQueue("normal", True)]
    assert plays(actions) == ["queue_agent_lost", "queue_hold"]
    assert flow.state is CallState.QUEUE_INTRO


def test_after_the_offer_time_1_keeps_waiting(flow: CallFlow) -> None:
    queued(flow)
    send(flow, status(), PromptFinished(), Timeout())
    offer = send(flow, status(waited=95))
    assert plays(offer) == ["queue_offer"] and flow.state is CallState.QUEUE_OFFER
    assert send(flow, PromptFinished()) == [SetTimer(6.0)]
    keep = send(flow, Digit("1"))
    assert keep[-1] == QueryQueue() and flow.state is CallState.QUEUE_WAITING
    assert plays(send(flow, status(waited=100)))[0] == "queue_position"  # not offered again yet
    assert plays(send(flow, Timeout(), status(waited=190))) == ["queue_offer"]


def test_no_key_at_the_offer_keeps_waiting(flow: CallFlow) -> None:
    queued(flow)
    send(flow, status(), PromptFinished(), Timeout(), status(waited=95))
    for _ in range(2):
        assert plays(send(flow, Timeout())) == ["no_input", "queue_offer"]
    assert send(flow, Timeout())[-1] == QueryQueue()
    assert flow.state is CallState.QUEUE_WAITING


def test_callback_with_the_caller_id_read_back(flow: CallFlow) -> None:
    queued(flow)
    send(flow, status(), PromptFinished(), Timeout(), status(waited=95))
    confirm = send(flow, Digit("2"))
    assert plays(confirm)[0] == "callback_number_is" and plays(confirm)[-1] == "callback_confirm"
    assert plays(confirm)[1:-1] == [f"digit_{d}" for d in "0812345678"]
    done = send(flow, Digit("1"))
    assert of_type(done, RequestQueueCallback) == [RequestQueueCallback("0812345678")]
    assert of_type(done, LeaveQueue) == [LeaveQueue("callback")]
    assert plays(done) == ["callback_queued", "goodbye"]
    assert send(flow, PromptFinished()) == [HangUp("completed")]
    assert not flow.abandoned


def test_callback_to_a_keyed_number(flow: CallFlow) -> None:
    queued(flow, caller=None)
    send(flow, status(), PromptFinished(), Timeout(), status(waited=95))
    assert plays(send(flow, Digit("2"))) == ["callback_enter"]
    send(flow, *[Digit(k) for k in "12"])
    assert plays(send(flow, Digit("#"))) == ["callback_number_invalid", "callback_enter"]
    send(flow, *[Digit(k) for k in "021234567"])
    confirm = send(flow, Digit("#"))
    assert plays(confirm)[1:-1] == [f"digit_{d}" for d in "021234567"]
    assert of_type(send(flow, Digit("1")), RequestQueueCallback) == [
        RequestQueueCallback("021234567")
    ]


def test_3_records_the_complaint_instead(flow: CallFlow) -> None:
    queued(flow)
    send(flow, status(), PromptFinished(), Timeout(), status(waited=95))
    actions = send(flow, Digit("3"))
    assert of_type(actions, LeaveQueue) == [LeaveQueue("recording")]
    assert plays(actions) == ["complaint_intro"]
    assert of_type(send(flow, PromptFinished()), StartRecording)


def test_no_agent_logged_in_offers_callback_and_recording_at_once(flow: CallFlow) -> None:
    queued(flow)
    actions = send(flow, status(agents=0))
    assert StopPlayback() in actions and plays(actions) == ["queue_no_agents"]
    assert flow.state is CallState.QUEUE_OFFER
    assert plays(send(flow, Digit("1"))) == ["invalid_choice", "queue_no_agents"]  # no waiting
    send(flow, Timeout())
    recorded = send(flow, Timeout())  # no keys: the complaint is recorded, never endless
    assert of_type(recorded, LeaveQueue) == [LeaveQueue("recording")]
    assert flow.state is CallState.COMPLAINT_INTRO


@pytest.mark.parametrize("trigger", [UrgentHeard(), Digit("0")])
def test_danger_while_recording_goes_to_the_head_as_urgent(flow: CallFlow, trigger: Event) -> None:
    send(flow, Started(), PromptFinished(), Digit("1"), PromptFinished())
    send(flow, RecordingStarted("6900000018"))
    actions = send(flow, trigger)
    assert actions[0] == StopRecording("urgent")  # kept on the draft, not partial
    assert of_type(actions, EnterQueue) == [EnterQueue("urgent", False)]
    assert plays(actions) == ["urgent_notice", "queue_hold"]
    assert flow.reference == "6900000018"


def test_callback_to_the_caller_id_in_international_form(flow: CallFlow) -> None:
    queued(flow, caller="+66812345678")
    send(flow, status(agents=0))
    confirm = send(flow, Digit("2"))
    assert plays(confirm)[1:-1] == [f"digit_{d}" for d in "0812345678"]


def test_callback_numbers() -> None:
    assert national_number("+66812345678") == "0812345678"
    assert national_number("0812345678") == "0812345678" and national_number(None) is None
    assert callback_number_ok("0812345678") and callback_number_ok("021234567")
    assert not callback_number_ok("812345678") and not callback_number_ok("08123456789")


def test_transfers_back_to_the_queue_and_to_a_hub(flow: CallFlow) -> None:
    queued(flow)
    send(flow, AgentAnswered("somchai"))
    back = send(flow, ConversationOver("requeue"))
    assert of_type(back, EnterQueue) == [EnterQueue("normal", True)]
    send(flow, AgentAnswered("bob"))
    assert send(flow, ConversationOver("transferred"))[-1] == HangUp("transferred")
    assert flow.state is CallState.ENDED and flow.end_reason == "transferred"
