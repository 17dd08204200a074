"""Node start-up: the menu and prompts are checked before any call; calls reach the flow."""

from __future__ import annotations

import sys
import threading
import types
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from config.settings import Settings
from ivr.channel import CallChannel
from ivr.node import load_assets, run_node
from ivr.prompts.manifest import PromptManifest
from ticketing.container import build_services
from ticketing.db import upgrade_schema

from .fakes import Caller, FakeChannel


def write_prompts(directory: Path, manifest: PromptManifest) -> None:
    directory.mkdir(parents=True)
    for entry in manifest.entries.values():
        with wave.open(str(directory / entry.file), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(8000)
            wav.writeframes(bytes(800))


@pytest.fixture
def node_settings(tmp_path: Path, ivr_redis_url: str) -> Settings:
    url = f"sqlite:///{tmp_path / 'node.sqlite3'}"
    upgrade_schema(url)
    return Settings(data_dir=tmp_path / "data", database_url=url, redis_url=ivr_redis_url)


def test_missing_prompts_stop_the_node_with_a_clear_message(
    node_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_node(node_settings, threading.Event()) == 2
    error = capsys.readouterr().err
    assert "prompt file(s) missing" in error
    assert "hotline1567 prompts build" in error


def test_broken_menu_stops_the_node(
    node_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "ivr_menu.toml").write_text('[[menu]]\nkey = "1"\naction = "dance"\n')
    settings = Settings(
        data_dir=node_settings.data_dir,
        database_url=node_settings.database_url,
        redis_url=node_settings.redis_url,
        config_dir=config,
    )
    assert run_node(settings, threading.Event()) == 2
    assert "ivr_menu.toml: [[menu]] #1 (key 1): unknown action 'dance'" in capsys.readouterr().err


def test_node_serves_calls_through_the_adapter(
    node_settings: Settings, manifest: PromptManifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_prompts(node_settings.prompts_dir, manifest)
    assets = load_assets(node_settings)
    assert "beep" in assets.prompts and "digit_9" in assets.prompts
    served: list[FakeChannel] = []

    class SipNode:  # the adapter's node: answers calls, and is the Dialler of their flows
        def __init__(self, settings: Settings, on_call: Callable[[CallChannel], None]) -> None:
            self._on_call = on_call

        def run(self, stop: threading.Event) -> None:
            channel = FakeChannel(Caller(hangup_at=0.5), call_id="node-call")
            channel.realtime = True
            channel.__post_init__()
            self._on_call(channel)  # the adapter runs this in the call's thread
            served.append(channel)
            assert not stop.is_set()
            stop.set()  # the node's queue workers stop with it

    fake_adapter = types.ModuleType("ivr.sip.adapter")
    fake_adapter.SipNode = SipNode  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ivr.sip.adapter", fake_adapter)
    assert run_node(node_settings, threading.Event()) == 0
    assert served and served[0].ended
    services = build_services(node_settings, start_relay=False)
    try:
        record = services.calls.get_call("node-call")
    finally:
        services.close()
    assert (record["end_reason"], record["abandoned"]) == ("bye", True)
    assert record["node"].endswith(f":{node_settings.sip_port}")
