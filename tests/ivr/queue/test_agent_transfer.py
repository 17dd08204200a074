"""Agent-to-agent transfer with the fake Dialler (issue 13): the other agent does not answer or
is not available -> the caller stays with the first officer (re-bridged); no transfer recorded."""

from __future__ import annotations

import pytest

from ivr.flow.menu import FlowConfig
from ivr.prompts.library import PromptLibrary
from tests.ivr.fakes import Caller
from ticketing.container import Services
from ticketing.presence import AgentState

from .fake_dialler import FakeDialler
from .test_queue_call import _transfer_when_bridged, available, events, prompts, run

pytestmark = pytest.mark.slow
__all__ = ["prompts"]  # the fixture


def test_the_other_agent_not_answering_leaves_the_caller_with_the_first(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    available(ivr_services, "somchai", "anna")
    dialler = FakeDialler({"somchai": ["answered"], "anna": ["no_answer"]})
    sender = _transfer_when_bridged(ivr_services, "agent:anna")
    run(ivr_services, flow_config, prompts, Caller(keys=[(0.3, "0")], hangup_at=5), dialler)
    sender.join(5)
    assert dialler.dialled == ["agent:somchai", "agent:anna"]
    assert len(dialler.bridges) == 2  # re-bridged to the first officer
    assert events(ivr_services, "call.transferred") == []
    [row] = ivr_services.call_queue.recent_calls()
    assert (row["outcome"], row["agent"]) == ("answered", "somchai")
    assert ivr_services.presence.store.get("anna").state is AgentState.AVAILABLE  # no penalty
    assert ivr_services.presence.store.get("somchai").state is AgentState.WRAP_UP


def test_an_unavailable_agent_is_not_rung(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    available(ivr_services, "somchai")  # anna offline
    dialler = FakeDialler({"somchai": ["answered"], "anna": ["answered"]})
    sender = _transfer_when_bridged(ivr_services, "agent:anna")
    run(ivr_services, flow_config, prompts, Caller(keys=[(0.3, "0")], hangup_at=4), dialler)
    sender.join(5)
    assert dialler.dialled == ["agent:somchai"]
    assert len(dialler.bridges) == 2
    assert events(ivr_services, "call.transferred") == []


def test_the_caller_hanging_up_while_the_other_agent_rings_cancels_the_ring(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    available(ivr_services, "somchai", "anna")
    dialler = FakeDialler({"somchai": ["answered"], "anna": ["ring"]})  # rings until cancelled
    sender = _transfer_when_bridged(ivr_services, "agent:anna")
    run(ivr_services, flow_config, prompts, Caller(keys=[(0.3, "0")], hangup_at=4), dialler)
    sender.join(5)
    assert dialler.dialled == ["agent:somchai", "agent:anna"]
    assert ivr_services.presence.store.get("anna").state is AgentState.AVAILABLE
    assert events(ivr_services, "call.transferred") == []
    assert ivr_services.calls.get_call("call-1")["ended_at"] is not None
