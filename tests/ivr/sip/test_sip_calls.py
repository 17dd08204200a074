"""Real SIP calls on 127.0.0.1: SIPp as registrar and caller, the adapter as the IVR node."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from ivr.channel import CallChannel, CallEnded

from .sipkit import (
    RtpSink,
    best_correlation,
    free_udp_port,
    running_node,
    sipp,
    speech_pcm16,
    tone,
)

pytestmark = pytest.mark.slow


def collecting_flow(calls: list[dict[str, object]], prompt: bytes = b"") -> object:
    """A small on_call: play a prompt, collect keys and caller audio until the caller hangs up."""

    def on_call(channel: CallChannel) -> None:
        record: dict[str, object] = {"caller": channel.caller_number, "keys": [], "audio": b""}
        calls.append(record)
        channel.play(prompt)
        audio = bytearray()
        try:
            while True:
                key = channel.next_dtmf(0.02)
                if key:
                    record["keys"].append(key)  # type: ignore[attr-defined]
                audio += channel.read_audio(0.02)
        except CallEnded:
            record["pending_at_end"] = channel.playback_pending()
        record["audio"] = bytes(audio)
        record["reason"] = channel.end_reason

    return on_call


def test_registers_answers_and_carries_dtmf_and_audio_both_ways():
    calls: list[dict[str, object]] = []
    registrar_port = free_udp_port()
    registrar = sipp(
        "registrar.xml", ("127.0.0.1", 5060), extra=("-p", str(registrar_port)), background=True
    )
    sink = RtpSink()
    try:
        with running_node(
            collecting_flow(calls, tone(3.0)), registrar=("127.0.0.1", registrar_port)
        ) as node:
            registrar.communicate(timeout=15)  # type: ignore[union-attr]
            assert registrar.returncode == 0  # type: ignore[union-attr]
            assert node.node.registered.wait(5)
            result = sipp(
                "uac.xml",
                ("127.0.0.1", node.node.settings.sip_port),
                hold_ms=4000,
                sink=sink.address,
            )
            assert result.returncode == 0, result.output + result.errors
            node.wait_idle()
    finally:
        sink.close()
    (call,) = calls
    assert call["caller"] == "+66812345678"  # from P-Asserted-Identity, not From
    assert call["keys"] == ["1", "#"]
    assert call["reason"] == "bye"
    received = call["audio"]
    assert isinstance(received, bytes) and len(received) > 8000 * 2 * 3
    assert best_correlation(received, speech_pcm16()) > 0.95
    # What the IVR sent: the 3 s tone, paced at 20 ms, then silence.
    (ssrc,) = sink.arrivals
    intervals = sink.intervals_ms()
    assert len(intervals) > 200
    assert 19.0 < float(np.median(intervals)) < 21.0
    assert float(np.percentile(intervals, 99)) < 30.0
    assert best_correlation(sink.audio(ssrc), tone(3.0)) > 0.95


def test_cancel_before_answer_frees_the_call():
    calls: list[dict[str, object]] = []
    with running_node(collecting_flow(calls), extra={"HOTLINE_IVR_ANSWER_DELAY": "3"}) as node:
        result = sipp("uac_cancel.xml", ("127.0.0.1", node.node.settings.sip_port))
        assert result.returncode == 0, result.output + result.errors
        node.wait_idle()
    assert calls == []  # the flow never ran


def test_caller_hangs_up_during_a_prompt():
    calls: list[dict[str, object]] = []
    with running_node(collecting_flow(calls, tone(10.0))) as node:
        result = sipp("uac.xml", ("127.0.0.1", node.node.settings.sip_port), hold_ms=500)
        assert result.returncode == 0, result.output + result.errors
        node.wait_idle()
    (call,) = calls
    assert call["reason"] == "bye"
    assert call["pending_at_end"] == 0  # the prompt was dropped, not left queued
    assert call["keys"] == ["1", "#"]


def test_rtp_timeout_hangs_up_a_silent_caller():
    calls: list[dict[str, object]] = []
    with running_node(collecting_flow(calls), extra={"HOTLINE_IVR_RTP_TIMEOUT": "2"}) as node:
        started = time.monotonic()
        result = sipp("uac_wait_bye.xml", ("127.0.0.1", node.node.settings.sip_port))
        assert result.returncode == 0, result.output + result.errors
        assert 1.5 < time.monotonic() - started < 8
        node.wait_idle()
    assert calls[0]["reason"] == "rtp_timeout"


def test_flow_hangup_sends_bye_and_frees_the_call():
    reasons: list[str | None] = []

    def on_call(channel: CallChannel) -> None:
        channel.play(tone(0.5))
        while channel.playback_pending() > 0:
            time.sleep(0.05)
        channel.hangup()
        reasons.append(channel.end_reason)
        with pytest.raises(CallEnded):
            channel.read_audio(0.1)

    with running_node(on_call) as node:
        result = sipp("uac_wait_bye.xml", ("127.0.0.1", node.node.settings.sip_port))
        assert result.returncode == 0, result.output + result.errors
        node.wait_idle()
    assert reasons == ["hangup"]


def test_flow_that_returns_at_once_still_hangs_up():
    with running_node(lambda channel: None) as node:
        result = sipp("uac_wait_bye.xml", ("127.0.0.1", node.node.settings.sip_port))
        assert result.returncode == 0, result.output + result.errors
        node.wait_idle()


def test_flow_that_raises_hangs_up_and_the_node_carries_on():
    def on_call(channel: CallChannel) -> None:
        raise RuntimeError("flow bug")

    with running_node(on_call) as node:
        for _ in range(2):
            result = sipp("uac_wait_bye.xml", ("127.0.0.1", node.node.settings.sip_port))
            assert result.returncode == 0, result.output + result.errors
        node.wait_idle()


LONG_CALL_SECONDS = int(os.environ.get("HOTLINE_TEST_LONG_CALL_SECONDS", "300"))


def test_long_call_stays_up():
    calls: list[dict[str, object]] = []
    with running_node(collecting_flow(calls, tone(1.0))) as node:
        result = sipp(
            "uac.xml",
            ("127.0.0.1", node.node.settings.sip_port),
            hold_ms=LONG_CALL_SECONDS * 1000,
            timeout=LONG_CALL_SECONDS + 60,
        )
        assert result.returncode == 0, result.output + result.errors
        node.wait_idle()
    (call,) = calls
    assert call["reason"] == "bye"  # the caller ended it, not us and not a timeout
    assert call["keys"] == ["1", "#"]
    received = call["audio"]
    assert isinstance(received, bytes)
    assert len(received) >= 2 * 8000 * (LONG_CALL_SECONDS - 2)


def test_registration_retries_until_the_registrar_appears_and_calls_never_stop():
    registrar_port = free_udp_port()
    with running_node(collecting_flow([]), registrar=("127.0.0.1", registrar_port)) as node:
        # Nobody at the registrar yet: the first attempt times out (4 s) and is retried with
        # backoff while the node goes on answering calls sent to it directly.
        result = sipp("uac.xml", ("127.0.0.1", node.node.settings.sip_port), hold_ms=300)
        assert result.returncode == 0, result.output + result.errors
        assert not node.node.registered.is_set()
        registrar = sipp(
            "registrar.xml",
            ("127.0.0.1", 5060),
            extra=("-p", str(registrar_port)),
            background=True,
            timeout=30,
        )
        registrar.communicate(timeout=40)  # type: ignore[union-attr]
        assert registrar.returncode == 0  # type: ignore[union-attr]
        assert node.node.registered.wait(2)
        assert node.thread.is_alive()
        node.wait_idle()
