"""Caller numbers never reach the IVR's logs in full at INFO (PDPA): only the last four digits."""

from __future__ import annotations

import logging

import pytest

from ivr.call_session import SessionOptions, run_call
from ivr.flow.menu import FlowConfig
from ivr.prompts.manifest import PromptManifest
from ticketing.container import Services

from .fakes import Caller, FakeChannel, fake_prompts


def test_a_call_logs_the_caller_masked(
    ivr_services: Services,
    flow_config: FlowConfig,
    manifest: PromptManifest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    caller = Caller(keys=[(1.0, "1"), (5.0, "#")], speech=[(2.0, 4.0)], hangup_at=9.0)
    channel = FakeChannel(caller, call_id="masked-1")
    prompts = fake_prompts(manifest)
    run_call(
        channel,
        ivr_services,
        flow_config,
        prompts,
        SessionOptions(node="n", clock=channel.monotonic),
    )
    assert "masked-1" in caplog.text  # the call was logged ...
    assert "0812345678" not in caplog.text  # ... never with the full number
    assert "5678" in caplog.text
