"""Callers far back in the queue look for an agent less often than the head (they cannot be
next), and the order is kept: the head is still the one bridged. Real Redis and SQLite."""

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
from ticketing.presence import AgentState
from ticketing.timeutil import utcnow

from .fake_dialler import FakeDialler
from .test_outbound_limit import answered_at, start_call, wait_for

pytestmark = pytest.mark.slow  # real time: dispatcher threads


@pytest.fixture
def prompts(manifest: PromptManifest) -> PromptLibrary:
    return fake_prompts(manifest, seconds=0.1)


def test_callers_further_back_claim_less_often_and_the_head_is_served_first(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    services = ivr_services
    live_queue = services.live_queue
    claims: collections.Counter[str] = collections.Counter()
    claim_or_place = live_queue.claim_or_place

    def counting(entry_id: str, token: str, **kwargs: Any) -> int:
        claims[entry_id] += 1
        return claim_or_place(entry_id, token, **kwargs)

    monkeypatch.setattr(live_queue, "claim_or_place", counting)
    dialler = FakeDialler({"anna": ["answered"]})
    callers = [
        Caller(keys=[(0.2, "0")], hangup_at=120, number=f"08100000{n:02d}") for n in range(6)
    ]
    threads = []
    for index, caller in enumerate(callers, start=1):
        threads.append(start_call(services, flow_config, prompts, caller, dialler, f"call-{index}"))
        wait_for(lambda n=index: live_queue.position(f"call-{n}") == n, f"caller {index} queued")
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
    for caller in callers:
        caller.hangup_at = 0.0
    for thread in threads:
        thread.join(10)
