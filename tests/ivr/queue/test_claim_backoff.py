"""Callers far back in the queue look for an agent less often than the head (they cannot be
next), and the order is kept: the head is still the one bridged, also when an agent comes free
while the head is still choosing (the next caller's offer leaves that agent to it), and when
Redis fails the head a moment. Real Redis and SQLite (and PostgreSQL when configured)."""

from __future__ import annotations

import collections
import threading
from typing import Any

import pytest

from ivr.flow.menu import FlowConfig
from ivr.prompts.library import PromptLibrary
from ivr.prompts.manifest import PromptManifest
from tests.ivr.fakes import Caller, fake_prompts
from ticketing.container import Services
from ticketing.errors import BusUnavailable, ServiceUnavailable
from ticketing.live_queue import Claim
from ticketing.presence import AgentState
from ticketing.timeutil import utcnow

from .fake_dialler import FakeDialler
from .test_outbound_limit import answered_at, start_call, wait_for

pytestmark = pytest.mark.slow  # real time: dispatcher threads


@pytest.fixture
def prompts(manifest: PromptManifest) -> PromptLibrary:
    return fake_prompts(manifest, seconds=0.1)


def queue_callers(
    services: Services, flow: FlowConfig, prompts: PromptLibrary, dialler: FakeDialler,
    callers: list[Caller],
) -> list[threading.Thread]:  # fmt: skip
    """Start the calls one after another, each queued (call-1 first) before the next."""
    threads = []
    for index, caller in enumerate(callers, start=1):
        threads.append(start_call(services, flow, prompts, caller, dialler, f"call-{index}"))
        wait_for(lambda n=index: services.live_queue.position(f"call-{n}") == n, f"call-{index}")
    return threads


def hang_up(callers: list[Caller], threads: list[threading.Thread]) -> None:
    for caller in callers:
        caller.hangup_at = 0.0
    for thread in threads:
        thread.join(10)


def test_callers_further_back_claim_less_often_and_the_head_is_served_first(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    services = ivr_services
    live_queue = services.live_queue
    claims: collections.Counter[str] = collections.Counter()
    claim = live_queue.claim

    def counting(entry_id: str, token: str, **kwargs: Any) -> Claim:
        claims[entry_id] += 1
        return claim(entry_id, token, **kwargs)

    monkeypatch.setattr(live_queue, "claim", counting)
    dialler = FakeDialler({"anna": ["answered"]})
    callers = [
        Caller(keys=[(0.2, "0")], hangup_at=120, number=f"08100000{n:02d}") for n in range(6)
    ]
    threads = queue_callers(services, flow_config, prompts, dialler, callers)
    claims.clear()
    threading.Event().wait(3.0)  # nobody available: everyone waits
    head, last = claims["call-1"], claims["call-6"]
    assert head >= 15  # the head looks every 0.1 s
    assert last * 3 <= head, dict(claims)  # five ahead: every 0.5 s
    assert claims["call-2"] > last, dict(claims)

    services.presence.apply("anna", lambda m: m.request(AgentState.AVAILABLE, utcnow()))
    wait_for(lambda: answered_at(services, "call-1") is not None, "the head bridged")
    assert dialler.dialled == ["agent:anna"]
    assert all(answered_at(services, f"call-{n}") is None for n in range(2, 7))
    hang_up(callers, threads)


def test_an_agent_free_while_the_head_still_chooses_is_left_to_the_head(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The CI failure of 4 Dec: the head had claimed and was reading the agents when Anna came
    free; the second caller (the head being offered) claimed too and rang her first."""
    services = ivr_services
    live_queue = services.live_queue
    claim = live_queue.claim
    armed, holding, go = threading.Event(), threading.Event(), threading.Event()
    second_claims: list[Claim] = []

    def slow_head(entry_id: str, token: str, **kwargs: Any) -> Claim:
        won = claim(entry_id, token, **kwargs)
        if not armed.is_set() or go.is_set():
            return won
        if entry_id == "call-1" and won.won:
            holding.set()  # the head holds its offer, still choosing
            go.wait(10)
        elif entry_id == "call-2" and holding.is_set():
            second_claims.append(won)
        return won

    monkeypatch.setattr(live_queue, "claim", slow_head)
    dialler = FakeDialler({"anna": ["answered"]})
    callers = [Caller(keys=[(0.2, "0")], hangup_at=120, number=f"0810000{n}") for n in (1, 2)]
    threads = queue_callers(services, flow_config, prompts, dialler, callers)
    armed.set()
    wait_for(holding.is_set, "the head holding its offer")
    services.presence.apply("anna", lambda m: m.request(AgentState.AVAILABLE, utcnow()))
    wait_for(lambda: len(second_claims) >= 3 or bool(dialler.dialled), "the second claiming")
    assert dialler.dialled == []  # nobody rang Anna for the second caller
    assert all(c == Claim(True, 1) for c in second_claims), second_claims  # one ahead chooses
    go.set()
    wait_for(lambda: answered_at(services, "call-1") is not None, "the head bridged")
    assert dialler.dialled == ["agent:anna"]
    assert answered_at(services, "call-2") is None
    hang_up(callers, threads)


def test_the_heads_dispatcher_outlives_redis_failing_a_moment(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    services = ivr_services
    store = services.presence.store
    read_all = store.all
    failures: list[str] = []

    def flaky() -> list[Any]:
        if threading.current_thread().name == "queue-call-1" and len(failures) < 3:
            failures.append("down")
            raise ServiceUnavailable("agent presence unavailable (read): Connection refused")
        return read_all()

    monkeypatch.setattr(store, "all", flaky)
    dialler = FakeDialler({"anna": ["answered"]})
    caller = Caller(keys=[(0.2, "0")], hangup_at=120, number="0810000001")
    thread = start_call(services, flow_config, prompts, caller, dialler, "call-1")
    wait_for(lambda: len(failures) == 3, "the offer rounds failing")
    services.presence.apply("anna", lambda m: m.request(AgentState.AVAILABLE, utcnow()))
    wait_for(lambda: answered_at(services, "call-1") is not None, "the head bridged after all")
    assert dialler.dialled == ["agent:anna"]
    hang_up([caller], [thread])


def test_the_ring_goes_on_when_marking_the_offer_fails(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    services = ivr_services
    failed: list[bool] = []

    def down(entry_id: str, token: str, **kwargs: Any) -> None:
        failed.append(kwargs.get("ringing", False))
        raise BusUnavailable("live queue unavailable (renew): Connection refused")

    monkeypatch.setattr(services.live_queue, "renew_offer", down)
    dialler = FakeDialler({"anna": ["answered"]})
    callers = [Caller(keys=[(0.2, "0")], hangup_at=120, number="0810000001")]
    threads = queue_callers(services, flow_config, prompts, dialler, callers)
    services.presence.apply("anna", lambda m: m.request(AgentState.AVAILABLE, utcnow()))
    wait_for(lambda: answered_at(services, "call-1") is not None, "the head bridged")
    assert failed == [True] and dialler.dialled == ["agent:anna"]  # rung though not marked
    hang_up(callers, threads)
