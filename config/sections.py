"""Typed settings sections of the roles with many tunables: the IVR node's SIP adapter, the
embedded Kamailio and the ASR worker. ``Settings.from_env`` builds each from the same environment;
a wrong value stops start-up naming the variable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from config.envparse import (
    SettingsError,
    boolean,
    host_port,
    items,
    name_value_pairs,
    number,
    positive,
)


@dataclass(frozen=True)
class SipOptions:
    """The IVR node's SIP adapter."""

    max_calls: int = 150  # HOTLINE_IVR_MAX_CALLS: above it new INVITEs get 503 (proxy fails over)
    rtp_timeout: float = 30.0  # HOTLINE_IVR_RTP_TIMEOUT: seconds without caller RTP -> BYE
    answer_delay: float = 0.2  # HOTLINE_IVR_ANSWER_DELAY: ringing before 200 OK
    rtp_low: int = 10000  # HOTLINE_RTP_PORTS=low-high
    rtp_high: int = 20000
    advertise: str | None = None  # HOTLINE_SIP_ADVERTISE: address put in Contact/SDP
    register_expires: int = 120  # HOTLINE_SIP_REGISTER_EXPIRES
    # HOTLINE_IVR_MAX_OUTBOUND: outbound legs at once (agents, callbacks, result calls); above it
    # ``dial`` fails at once without sending, so outbound work never crowds out inbound callers,
    # and the queue rings no agent until a leg ends. Unset (0): half of max_calls, so up to every
    # other caller can be bridged to an agent (a 600-call node: 300 legs for 100+ agents)
    max_outbound: int = 0
    # HOTLINE_SIP_OUTBOUND_PROXY=host:port: where outbound INVITEs go (default: the registrar,
    # i.e. Kamailio, which finds agents' phones and the trunk)
    outbound_proxy: tuple[str, int] | None = None
    # HOTLINE_IVR_DB_CONNECTIONS: the node's database connections, and so its call threads in a
    # transaction at once; the others wait without taking the interpreter lock. 300 call threads
    # writing together (the queue benchmark's ramp) kept the SIP loop from the GIL for 0.5-2.6 s:
    # INVITEs went unanswered past Kamailio's 2 s fr_timer (408, the node failed over).
    db_connections: int = 4
    # HOTLINE_IVR_MEDIA_REALTIME: the media process's SCHED_RR priority (1-99; 0: only nice -10).
    # Refused (no CAP_SYS_NICE), it falls back to the nice. With nice alone, at 300 calls with
    # 100 bridged the relay added p99 11-12 ms; a real-time media process is not kept waiting.
    media_realtime: int = 10

    def __post_init__(self) -> None:
        if not 0 <= self.media_realtime <= 99:
            raise SettingsError(
                f"HOTLINE_IVR_MEDIA_REALTIME={self.media_realtime}: expected 0 (off) to 99"
            )
        if self.max_outbound <= 0:
            object.__setattr__(self, "max_outbound", max(1, self.max_calls // 2))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SipOptions:
        low, high = cls.rtp_low, cls.rtp_high
        ports = env.get("HOTLINE_RTP_PORTS", "").strip()
        if ports:
            first, dash, last = ports.partition("-")
            if not (dash and first.isdigit() and last.isdigit()) or not (
                1024 <= int(first) < int(last) < 65536
            ):
                raise SettingsError(
                    f"HOTLINE_RTP_PORTS={ports!r}: expected low-high, e.g. 10000-20000"
                )
            low, high = int(first), int(last)
        return cls(
            max_calls=int(number(env, "HOTLINE_IVR_MAX_CALLS", cls.max_calls, 1)),
            rtp_timeout=number(env, "HOTLINE_IVR_RTP_TIMEOUT", cls.rtp_timeout, 1),
            answer_delay=number(env, "HOTLINE_IVR_ANSWER_DELAY", cls.answer_delay, 0),
            rtp_low=low,
            rtp_high=high,
            advertise=env.get("HOTLINE_SIP_ADVERTISE", "").strip() or None,
            register_expires=int(
                number(env, "HOTLINE_SIP_REGISTER_EXPIRES", cls.register_expires, 30)
            ),
            max_outbound=positive(env, "HOTLINE_IVR_MAX_OUTBOUND", 0),  # unset: from max_calls
            outbound_proxy=host_port(env, "HOTLINE_SIP_OUTBOUND_PROXY"),
            db_connections=int(number(env, "HOTLINE_IVR_DB_CONNECTIONS", cls.db_connections, 1)),
            media_realtime=int(number(env, "HOTLINE_IVR_MEDIA_REALTIME", cls.media_realtime, 0)),
        )


@dataclass(frozen=True)
class KamailioOptions:
    """The embedded Kamailio ``hotline1567 run`` starts."""

    listen: tuple[str, int] = ("127.0.0.1", 5060)  # HOTLINE_KAMAILIO_LISTEN=host:port
    # HOTLINE_IVR_NODES=ivr1@10.0.0.5:5062,ivr2@10.0.0.6:5062 (empty: the local node)
    ivr_nodes: tuple[str, ...] = ()
    children: int = 4  # HOTLINE_KAMAILIO_CHILDREN: UDP worker processes
    # HOTLINE_SIP_TRUNK=host:port: where the IVR nodes' INVITEs to numbers go (result calls,
    # callbacks, transfers to hubs); unset: such INVITEs get 503
    trunk: tuple[str, int] | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KamailioOptions:
        return cls(
            listen=host_port(env, "HOTLINE_KAMAILIO_LISTEN") or cls.listen,
            ivr_nodes=items(env, "HOTLINE_IVR_NODES"),
            children=positive(env, "HOTLINE_KAMAILIO_CHILDREN", cls.children),
            trunk=host_port(env, "HOTLINE_SIP_TRUNK"),
        )


ASR_MAX_SLOTS = 64  # default upper bound on calls at once per ASR worker process


@dataclass(frozen=True)
class AsrWorkerOptions:
    """The ASR worker (``hotline1567 asr-worker``)."""

    consumer: str | None = None  # HOTLINE_ASR_CONSUMER (default host-pid)
    concurrency: int = ASR_MAX_SLOTS  # HOTLINE_ASR_CONCURRENCY: upper bound; cores and cost decide
    reclaim_seconds: float = 30.0  # HOTLINE_ASR_RECLAIM_SECONDS
    sweep_seconds: float = 60.0  # HOTLINE_ASR_SWEEP_SECONDS
    stream_wait_seconds: float = 10.0  # HOTLINE_ASR_STREAM_WAIT_SECONDS
    stream_idle_seconds: float = 30.0  # HOTLINE_ASR_STREAM_IDLE_SECONDS
    max_attempts: int = 3  # HOTLINE_ASR_MAX_ATTEMPTS
    recognizers: int = 0  # HOTLINE_ASR_RECOGNIZERS: speech recognizers per process (0: from cores)
    agent_channel: bool = True  # HOTLINE_ASR_AGENT_CHANNEL: transcribe the call-taker's side too
    # HOTLINE_ASR_DECODER: Kaldi search options over the model's conf ("beam=9,max-active=2000"),
    # "model" for the model's own; empty: the worker's tuned set (asr.decoding.SEARCH)
    decoder: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AsrWorkerOptions:
        return cls(
            consumer=env.get("HOTLINE_ASR_CONSUMER", "").strip() or None,
            concurrency=int(number(env, "HOTLINE_ASR_CONCURRENCY", ASR_MAX_SLOTS, 1)),
            reclaim_seconds=number(env, "HOTLINE_ASR_RECLAIM_SECONDS", 30.0, 0.5),
            sweep_seconds=number(env, "HOTLINE_ASR_SWEEP_SECONDS", 60.0, 1),
            stream_wait_seconds=number(env, "HOTLINE_ASR_STREAM_WAIT_SECONDS", 10.0),
            stream_idle_seconds=number(env, "HOTLINE_ASR_STREAM_IDLE_SECONDS", 30.0, 1),
            max_attempts=int(number(env, "HOTLINE_ASR_MAX_ATTEMPTS", 3, 1)),
            recognizers=int(number(env, "HOTLINE_ASR_RECOGNIZERS", 0, 0)),
            agent_channel=boolean(env, "HOTLINE_ASR_AGENT_CHANNEL", True),
            decoder=_decoder(env),
        )


def _decoder(env: Mapping[str, str]) -> str | None:
    """HOTLINE_ASR_DECODER: "model", or name=value pairs separated by commas."""
    raw = env.get("HOTLINE_ASR_DECODER", "").strip()
    if not raw or raw == "model":
        return raw or None
    try:
        name_value_pairs(raw)
    except ValueError as exc:
        raise SettingsError(f"HOTLINE_ASR_DECODER={raw!r}: {exc} (or 'model')") from None
    return raw
