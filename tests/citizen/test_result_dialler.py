"""The node's result dialler against a fake Dialler (the seam of ivr/outbound.py) and the
in-memory channel in virtual time: a person rates, a machine gets a message, silence, an early
hang-up, busy then a retry at the allowed time, the per-node concurrency limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from ivr.channel import CallChannel
from ivr.flow.result_call import ResultCallFlow, ResultCallInfo
from ivr.prompts.manifest import load_manifest, manifest_path
from ivr.result_dialler import ResultDialler, run_result_call
from tests.ivr.fakes import Caller, FakeChannel, fake_prompts
from ticketing.container import Services

from .helpers import bangkok, resolved_ticket

PROMPTS = fake_prompts(load_manifest(manifest_path(None)))
INFO = ResultCallInfo("690000123", "resolved", "agency_police", "resolved")
MORNING = bangkok("2026-12-03 10:00")


def _run(caller: Caller) -> tuple[ResultCallFlow, FakeChannel]:
    channel = FakeChannel(caller)
    flow = ResultCallFlow(INFO)
    run_result_call(channel, flow, PROMPTS, clock=channel.monotonic)
    return flow, channel


def test_a_person_says_hello_and_rates_4() -> None:
    flow, channel = _run(Caller(speech=[(0.2, 0.8)], keys=[(20.0, "4")]))
    assert (flow.outcome, flow.rating) == ("rated", 4)
    assert channel.hung_up_by_ivr
    assert channel.plays[0][0] < 2.0  # the announcement starts soon after the hello


def test_an_answering_machine_gets_the_message_after_its_greeting() -> None:
    flow, channel = _run(Caller(speech=[(0.2, 5.0)]))
    assert (flow.outcome, flow.rating) == ("message_left", None)
    assert channel.plays[0][0] >= 5.0  # not spoken over the greeting


def test_silence_gets_the_message_too() -> None:
    flow, channel = _run(Caller())
    assert flow.outcome == "message_left"
    assert 3.9 <= channel.plays[0][0] <= 4.5


def test_a_hang_up_during_the_announcement_is_answered_without_rating() -> None:
    flow, _ = _run(Caller(speech=[(0.2, 0.6)], hangup_at=3.0))
    assert (flow.outcome, flow.rating) == ("answered", None)


def test_pressing_7_then_nothing_is_answered_without_rating() -> None:
    flow, _ = _run(Caller(speech=[(0.2, 0.6)], keys=[(15.0, "7")]))
    assert (flow.outcome, flow.rating) == ("answered", None)


@dataclass(frozen=True)
class Dialled:
    outcome: str
    status: int | None
    channel: CallChannel | None


@dataclass
class FakeDialler:
    """Answers each dial from a script: an outcome, or a caller who answers."""

    script: list[str | Caller]
    gate: threading.Event | None = None
    targets: list[str] = field(default_factory=list)

    def dial(
        self,
        target: str,
        *,
        caller_id: str,
        ring_timeout: float,
        cancel: threading.Event | None = None,
        on_ringing: Callable[[], None] | None = None,
    ) -> Dialled:
        self.targets.append(target)
        if self.gate is not None:
            self.gate.wait(10)
        step = self.script.pop(0) if self.script else "no_answer"
        if isinstance(step, Caller):
            return Dialled("answered", 200, FakeChannel(step))
        return Dialled(step, {"busy": 486, "no_answer": 408}.get(step, 503), None)


def _dialler(services: Services, fake: FakeDialler) -> ResultDialler:
    return ResultDialler(
        services.result_calls,
        fake,
        PROMPTS,
        "node-a",
        clock=lambda: MORNING,
        channel_clock=lambda channel: channel.monotonic,  # type: ignore[attr-defined]
    )


def _idle(dialler: ResultDialler) -> None:
    deadline = time.monotonic() + 20
    while dialler.active and time.monotonic() < deadline:
        time.sleep(0.02)
    assert dialler.active == 0


def test_busy_then_the_next_attempt_at_the_allowed_time_reaches_the_officer_wish(
    services: Services,
) -> None:
    ref = resolved_ticket(services)
    fake = FakeDialler(["busy", Caller(speech=[(0.2, 0.7)], keys=[(20.0, "0")])])
    dialler = _dialler(services, fake)
    assert dialler.run_once(MORNING) == 1
    _idle(dialler)
    assert fake.targets == ["tel:0812345678"]
    [state] = services.result_calls.state_of(ref)
    assert (state["state"], state["last_outcome"]) == ("pending", "busy")
    assert dialler.run_once(bangkok("2026-12-03 11:59")) == 0  # not 2 h yet
    assert dialler.run_once(bangkok("2026-12-03 12:00")) == 1
    _idle(dialler)
    outcomes = [a["outcome"] for a in services.tickets.detail(ref)["result_calls"]]
    assert outcomes == ["busy", "wants_officer"]


def test_the_concurrency_limit_holds_per_node(services: Services) -> None:
    for _ in range(6):
        resolved_ticket(services)
    gate = threading.Event()
    dialler = _dialler(services, FakeDialler([], gate=gate))
    assert services.result_calls.settings.concurrency == 4
    assert dialler.run_once(MORNING) == 4
    assert dialler.run_once(MORNING) == 0
    assert dialler.active == 4
    gate.set()
    _idle(dialler)
    assert dialler.run_once(MORNING) == 2
    _idle(dialler)


@pytest.mark.parametrize(
    ("outcome", "recorded"), [("unreachable", "failed"), ("rejected", "failed")]
)
def test_a_trunk_refusal_is_failed_with_its_status(
    services: Services, outcome: str, recorded: str
) -> None:
    ref = resolved_ticket(services)
    dialler = _dialler(services, FakeDialler([outcome]))
    dialler.run_once(MORNING)
    _idle(dialler)
    [state] = services.result_calls.state_of(ref)
    assert (state["state"], state["last_outcome"]) == ("pending", recorded)
    audit = [a for a in services.tickets.audit(ref) if a["action"] == "result_call"]
    assert "SIP 503" in str(audit[-1])
