"""Live call-takers in Debian's Chromium (issue 13): the agent goes available, their phone rings
and the call pops on their screen (masked number, earlier tickets, the draft), the live
transcript grows with speaker labels from ``asr.partial`` events, the draft's fields fill in as
they are understood, the agent confirms and routes during the call, wrap-up is ended early; the
supervisor's wallboard follows from events; the reconciler un-sticks a stuck agent.

Events come as the IVR and ASR workers send them: through ticketing's services (outbox -> the
real EventBus on the real Redis) and, for ``asr.partial``, published on the bus directly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from config.settings import Settings
from ticketing.container import Services
from ticketing.events import Event
from ticketing.live_queue import QueueEntry
from ticketing.presence_reconcile import PresenceReconciler

from .conftest import LiveServer, phone_draft
from .test_browser import ARTIFACTS, browser, signed_in_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def metric(page: Any, key: str) -> str:
    return str(page.text_content(f'[data-metric="{key}"]')).strip()


def wait_metric(page: Any, key: str, value: str) -> None:
    page.wait_for_function(
        "([k, v]) => document.querySelector(`[data-metric=${k}]`).textContent.trim() === v",
        arg=[key, value],
        timeout=6000,
    )


def wait_state(page: Any, state: str) -> None:
    page.wait_for_function(
        "(s) => document.getElementById('presence-state').dataset.state === s",
        arg=state,
        timeout=6000,
    )


def partial(services: Services, reference: str, channel: str, text: str) -> None:
    """As the ASR worker publishes it: the draft's reference and the channel's text so far."""
    data = {"reference": reference, "status": "draft", "asr_status": "streaming"}
    services.bus.publish(Event("asr.partial", {**data, "channel": channel, "text": text}))


def test_a_live_call_on_the_console_and_the_wallboard(
    live_server: LiveServer,
    browser: Any,  # noqa: F811
    services: Services,
    settings: Settings,
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    earlier = phone_draft(services, settings, caller="0812345678").ticket["reference"]
    console = signed_in_page(browser, live_server, "somchai", "/console")
    board = signed_in_page(browser, live_server, "boss", "/dashboard")
    console.wait_for_selector("#live-status.on")
    board.wait_for_selector("#live-status.on")
    wait_state(console, "offline")
    wait_metric(board, "wb_agents", "0")

    # The agent goes available; the wallboard hears agent.state.
    console.click("#p-available")
    wait_state(console, "available")
    wait_metric(board, "wb_agents", "1")
    assert "พร้อมรับสาย 1" in str(board.text_content('[data-sub="wb_agents"]'))

    # A caller presses 0: the call is queued (its draft made), the wallboard counts them.
    services.calls.start_call("c1", caller_number="0812345678", node="n1")
    services.calls.answered("c1")
    services.live_queue.join(QueueEntry("c1", "normal", datetime.now(UTC), node="n1"))
    queued = services.call_queue.queued("c1", priority="normal", reference=None)
    reference = queued["ticket_reference"]
    assert queued["earlier_references"] == [earlier]
    wait_metric(board, "wb_waiting", "1")

    # The agent's phone rings: the call pops with the masked number, earlier tickets, the draft.
    services.presence.ring("somchai", "c1")
    services.call_queue.ringing(
        "c1", "somchai", ticket_reference=reference, earlier=queued["earlier_references"]
    )
    console.wait_for_selector("#call-pop[data-phase=ringing]")
    assert console.text_content("#call-caller") == "••••••5678"
    assert earlier in str(console.text_content("#call-earlier"))
    console.wait_for_function(
        "(r) => document.getElementById('t-ref').textContent === r", arg=reference
    )
    wait_state(console, "ringing")

    # Answered: bridged; the live transcript grows with speaker labels.
    services.presence.answer("somchai")
    services.live_queue.leave("c1")
    services.call_queue.bridged("c1", "somchai")
    console.wait_for_selector("#call-pop[data-phase=connected]")
    wait_metric(board, "wb_waiting", "0")
    wait_metric(board, "wb_answered", "1")

    # Hold and mute from the console reach the node holding the call (its command stream).
    node = services.call_commands.reader("n1", "c1")
    console.click("#c-hold")
    console.wait_for_selector("#c-hold[aria-pressed=true]")
    console.click("#c-hold")
    console.wait_for_selector("#c-hold[aria-pressed=false]")
    console.click("#c-mute")
    console.wait_for_selector("#c-mute[aria-pressed=true]")
    seen = [node.next() for _ in range(3)]
    assert [c.action for c in seen if c] == ["hold", "resume", "mute"]

    # The supervisor listens in from the wallboard: the node is asked to ring their own phone.
    board.click("#wb-agent-rows tr[data-agent=somchai] button[data-listen=c1]")
    board.wait_for_function("() => document.getElementById('toast').className === 'toast ok'")
    listen = None
    for _ in range(100):
        listen = listen or node.next()
        if listen is not None:
            break
        board.wait_for_timeout(50)
    assert listen is not None and (listen.action, listen.target) == ("listen", "agent:boss")
    partial(services, reference, "caller", "ไฟ ถนน")
    console.wait_for_selector("#live-transcript li.caller.pending")
    partial(services, reference, "caller", "ไฟ ถนน หน้า บ้าน ดับ มา สาม วัน")
    partial(services, reference, "agent", "ขอ ทราบ จังหวัด ด้วย ครับ")
    partial(services, reference, "caller", "ไฟ ถนน หน้า บ้าน ดับ มา สาม วัน กรุงเทพ ค่ะ")
    console.wait_for_function("() => document.querySelectorAll('#live-transcript li').length === 3")
    lines = console.eval_on_selector_all(
        "#live-transcript li", "els => els.map(e => e.textContent)"
    )
    assert lines == [
        "ผู้โทรไฟ ถนน หน้า บ้าน ดับ มา สาม วัน",
        "เจ้าหน้าที่ขอ ทราบ จังหวัด ด้วย ครับ",
        "ผู้โทรกรุงเทพ ค่ะ",
    ]

    # The officer types while the understanding fills the draft: both are kept; unsure amber.
    console.fill("#f-description", "ไฟถนนหน้าบ้านดับสามวัน")
    draft = services.tickets.get(reference)
    services.tickets.apply_transcript(
        draft["id"],
        transcript="ไฟ ถนน หน้า บ้าน ดับ มา สาม วัน กรุงเทพ ค่ะ",
        words=None,
        extracted={"category": "INFRASTRUCTURE", "province_code": "10"},
        confidence={"category": 0.55, "province_code": 0.95},
        asr_status="streaming",
    )
    console.wait_for_function(
        "() => document.getElementById('f-category').value === 'INFRASTRUCTURE'"
    )
    assert "unsure-field" in str(console.get_attribute('.field[data-field="category"]', "class"))
    assert "กรุงเทพ" in str(console.input_value("#f-province"))
    assert console.input_value("#f-description") == "ไฟถนนหน้าบ้านดับสามวัน"
    console.screenshot(path=str(ARTIFACTS / "console-live-call.png"))

    # Confirmed and routed during the call.
    console.focus("#queue-list")
    console.keyboard.press("c")
    console.wait_for_selector("#d-route[open]")
    console.click("#d-route button[value=ok]")
    console.wait_for_function("() => document.getElementById('t-status').textContent === 'ส่งต่อแล้ว'")
    stored = services.tickets.get(reference)
    assert stored["status"] == "routed" and stored["category"] == "INFRASTRUCTURE"
    assert stored["description"] == "ไฟถนนหน้าบ้านดับสามวัน"
    assert services.presence.store.get("somchai").state.value == "on_call"  # still talking

    # A reload mid-call finds the call again (presence names it; the calls record its draft).
    console.reload()
    console.wait_for_selector("#live-status.on")
    console.wait_for_selector("#call-pop[data-phase=connected]")
    assert console.text_content("#call-caller") == "••••••5678"
    console.wait_for_function(
        "(r) => document.getElementById('t-ref').textContent === r", arg=reference
    )

    # The caller hangs up: wrap-up with its countdown, ended early by the agent.
    services.call_queue.conversation_ended("c1", talk_seconds=40, hold_seconds=0)
    services.calls.end_call("c1", "bye", abandoned=False)
    services.presence.hang_up("somchai")
    console.wait_for_selector("#call-pop[data-phase=ended]")
    wait_state(console, "wrap_up")
    console.wait_for_selector("#wrapup:not([hidden])")
    assert int(str(console.text_content("#wrapup-left"))) > 0
    board.screenshot(path=str(ARTIFACTS / "wallboard.png"))
    console.click("#p-end-wrapup")
    wait_state(console, "available")
    assert services.presence.store.get("somchai").state.value == "available"
    board.wait_for_function(
        "() => document.querySelector('#wb-agent-rows tr[data-agent=somchai]')"
        " && document.querySelector('#wb-agent-rows tr[data-agent=somchai]')"
        ".children[3].textContent === '1'"
    )

    # A ring whose node died (the call ended, presence never told): the reconciler un-sticks it.
    services.calls.start_call("c2", caller_number="0899999999", node="n2")
    services.presence.ring("somchai", "c2")
    wait_state(console, "ringing")
    services.calls.end_call("c2", "node lost", abandoned=True)
    assert PresenceReconciler(services.presence, services.sessions).run() == 1
    wait_state(console, "available")
    console.wait_for_selector("#toast:not([hidden])")
    assert "ระบบปรับสถานะ" in str(console.text_content("#toast"))
    board.wait_for_function(
        "() => document.querySelector('[data-sub=wb_agents]').textContent.includes('สายเข้า 0')"
    )
