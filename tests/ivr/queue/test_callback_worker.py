"""Callback requests placed by a node (fake Dialler; real live queue, presence, SQLite), the
urgency follower, and the queue's settings."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import redis

from config.catalog import CatalogError
from config.envparse import SettingsError
from config.hubs import load_hubs
from config.queue_settings import QueueSettings
from ivr.callback_worker import CallbackWorker
from tests.ivr.fakes import Caller, FakeChannel
from ticketing.call_signals import UrgentWatch, is_urgent_partial
from ticketing.callbacks import entry_id
from ticketing.container import Services
from ticketing.events import EVENTS_STREAM
from ticketing.presence import AgentState
from ticketing.timeutil import utcnow

from .fake_dialler import AgentLeg, FakeDialler, Result


class CitizenDialler(FakeDialler):
    """Agents per the script; ``tel:`` numbers answer with a channel that hangs up at once."""

    citizen: str = "answered"

    def dial(self, target: str, **kw: object) -> Result:  # type: ignore[override]
        if target.startswith("tel:"):
            self.dialled.append(target)
            if self.citizen != "answered":
                return Result(self.citizen, 486, None)
            return Result("answered", 200, FakeChannel(Caller(hangup_at=0.3), realtime=True))  # type: ignore[arg-type]
        return super().dial(target, **kw)  # type: ignore[arg-type]


def request(services: Services) -> int:
    services.calls.start_call("c1", caller_number="0812345678")
    queued = services.call_queue.queued("c1", priority="normal", reference=None)
    view = services.callbacks.request(
        "0812345678", call_id="c1", ticket_reference=queued["ticket_reference"],
        queue_position_at=queued["entered_at"],
    )  # fmt: skip
    return int(view["id"])


def worker(services: Services, dialler: FakeDialler) -> CallbackWorker:
    return CallbackWorker(services, dialler, node="n1", settings=QueueSettings(), ring_timeout=3)


def test_a_callback_at_the_head_rings_an_agent_then_the_citizen(ivr_services: Services) -> None:
    callback = request(ivr_services)
    ivr_services.presence.apply("anna", lambda m: m.request(AgentState.AVAILABLE, utcnow()))
    dialler = CitizenDialler({"anna": ["answered"]}, legs={"anna": AgentLeg("anna")})
    assert worker(ivr_services, dialler).step(threading.Event())
    assert dialler.dialled == ["agent:anna", "tel:0812345678"]
    done = ivr_services.callbacks.get(callback)
    assert (done["state"], done["attempts"], done["last_outcome"]) == ("done", 1, "answered")
    assert done["agent"] == "anna"
    assert ivr_services.presence.store.get("anna").state is AgentState.WRAP_UP
    assert ivr_services.live_queue.get(entry_id(callback)) is None


def test_an_unreached_number_is_retried_later(ivr_services: Services) -> None:
    callback = request(ivr_services)
    ivr_services.presence.apply("anna", lambda m: m.request(AgentState.AVAILABLE, utcnow()))
    dialler = CitizenDialler({"anna": ["answered"]}, legs={"anna": AgentLeg("anna")})
    dialler.citizen = "busy"
    assert worker(ivr_services, dialler).step(threading.Event())
    after = ivr_services.callbacks.get(callback)
    assert (after["state"], after["attempts"], after["last_outcome"]) == ("pending", 1, "busy")
    assert ivr_services.presence.store.get("anna").state is AgentState.WRAP_UP


def test_nobody_free_the_callback_keeps_its_place(ivr_services: Services) -> None:
    callback = request(ivr_services)
    dialler = CitizenDialler({})
    assert not worker(ivr_services, dialler).step(threading.Event())
    assert dialler.dialled == []
    entry = ivr_services.live_queue.get(entry_id(callback))
    assert entry is not None and not entry.offered


def test_urgent_partials_flag_the_call(ivr_services: Services) -> None:
    client = redis.Redis.from_url(str(ivr_services.settings.redis_url))
    watch = UrgentWatch(client, block_ms=100)
    watch.read_once()  # pins "now"

    def partial(data: dict[str, object]) -> None:
        client.xadd(EVENTS_STREAM, {"type": "asr.partial", "data": json.dumps(data)})

    partial({"call_id": "c9", "text": "ช่วยด้วย มีคนจะทำร้าย", "urgent": True})
    partial({"call_id": "c8", "text": "ถนนเป็นหลุม", "urgent": False})
    partial({"call_id": "c7", "channel": "agent", "urgent": True})  # the officer's words: no
    assert watch.read_once() == 1
    assert watch.urgent("c9") and not watch.urgent("c9") and not watch.urgent("c8")
    assert is_urgent_partial({"urgency": "high"}) and not is_urgent_partial({})


def test_queue_settings_from_the_environment() -> None:
    assert QueueSettings.from_env({}) == QueueSettings()
    parsed = QueueSettings.from_env(
        {"HOTLINE_QUEUE_RING_SECONDS": "10", "HOTLINE_QUEUE_WRAP_UP_SECONDS": "45",
         "HOTLINE_SL_SECONDS": "30", "HOTLINE_ASR_AGENT_CHANNEL": "false"}
    )  # fmt: skip
    assert (parsed.ring_timeout_seconds, parsed.wrap_up_seconds) == (10, 45)
    assert parsed.sl_seconds == 30 and not parsed.transcribe_agent
    with pytest.raises(SettingsError, match="HOTLINE_QUEUE_ANNOUNCE_SECONDS"):
        QueueSettings.from_env({"HOTLINE_QUEUE_ANNOUNCE_SECONDS": "90"})
    with pytest.raises(SettingsError, match="HOTLINE_QUEUE_WRAP_UP_SECONDS"):
        QueueSettings.from_env({"HOTLINE_QUEUE_WRAP_UP_SECONDS": "2.5"})


def test_the_packaged_hubs_and_a_broken_file(tmp_path: Path) -> None:
    hubs = load_hubs()
    assert sorted(hubs) == ["1111", "1166", "1669", "191"]
    (tmp_path / "hubs.toml").write_text('[[hub]]\nnumber = "12"\nname_th = "x"\nname_en = "x"\n')
    with pytest.raises(CatalogError, match=r"hubs.toml: \[\[hub\]\] #1: number must be"):
        load_hubs(tmp_path)
