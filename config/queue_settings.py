"""The live queue's settings (issue 13): how long an agent's phone rings, the wrap-up, how often
a waiting caller hears their place, when they are offered a callback, and the service-level
threshold. A wrong value stops start-up naming the variable (:class:`SettingsError`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from config.envparse import SettingsError, boolean, number


@dataclass(frozen=True)
class QueueSettings:
    # HOTLINE_QUEUE_RING_SECONDS: an agent's phone rings this long, then the next agent; unset:
    # agent_states.toml's no_answer_seconds (default 15)
    ring_timeout_seconds: float | None = None
    # HOTLINE_QUEUE_WRAP_UP_SECONDS: after a call the agent is in wrap-up this long; unset:
    # agent_states.toml's wrap_up_seconds (default 30)
    wrap_up_seconds: int | None = None
    # HOTLINE_QUEUE_ANNOUNCE_SECONDS: position and estimate every 30-60 s
    announce_interval_seconds: float = 45.0
    # HOTLINE_QUEUE_OFFER_AFTER_SECONDS: then 1 keep waiting / 2 callback / 3 record
    offer_after_seconds: float = 120.0
    # HOTLINE_SL_SECONDS: T of the service levels SL and SL2
    sl_seconds: float = 20.0
    # HOTLINE_ASR_AGENT_CHANNEL=false (the switch the ASR worker reads too): the node queues only
    # the caller's channel for ASR (half the load); a worker skips agent-side jobs that still come
    transcribe_agent: bool = True
    # HOTLINE_QUEUE_CALLBACK_ATTEMPTS: dial a callback number at most this many times
    callback_attempts: int = 3
    # HOTLINE_QUEUE_CALLBACK_RETRY_SECONDS: between two attempts of one callback
    callback_retry_seconds: float = 300.0
    # HOTLINE_NODE_HEARTBEAT_SECONDS: each IVR node writes its heartbeat this often
    node_heartbeat_seconds: float = 2.0
    # HOTLINE_NODE_HEARTBEAT_TTL_SECONDS: a node whose heartbeat is older is stopped (its calls
    # are ended by the presence reconciler); unset: three heartbeats
    node_heartbeat_ttl_seconds: float | None = None
    # HOTLINE_PRESENCE_REGISTRATION_GRACE_SECONDS: an agent whose phone is not in Kamailio's
    # location table is made offline only once their state is this old (a fresh REGISTER reaches
    # the table after usrloc's write-back timer on SQLite, later under load)
    registration_grace_seconds: float = 60.0

    @property
    def node_heartbeat_ttl(self) -> float:
        if self.node_heartbeat_ttl_seconds is not None:
            return self.node_heartbeat_ttl_seconds
        return 3 * self.node_heartbeat_seconds

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> QueueSettings:
        announce = number(env, "HOTLINE_QUEUE_ANNOUNCE_SECONDS", cls.announce_interval_seconds, 1)
        if not 30 <= announce <= 60:
            raise SettingsError(
                f"HOTLINE_QUEUE_ANNOUNCE_SECONDS={announce:g}: expected 30 to 60 seconds"
            )
        heartbeat = number(env, "HOTLINE_NODE_HEARTBEAT_SECONDS", cls.node_heartbeat_seconds, 0.1)
        heartbeat_ttl = _optional(env, "HOTLINE_NODE_HEARTBEAT_TTL_SECONDS", 0.1)
        if heartbeat_ttl is not None and heartbeat_ttl <= heartbeat:
            raise SettingsError(
                f"HOTLINE_NODE_HEARTBEAT_TTL_SECONDS={heartbeat_ttl:g}: expected more than"
                f" HOTLINE_NODE_HEARTBEAT_SECONDS ({heartbeat:g})"
            )
        return cls(
            ring_timeout_seconds=_optional(env, "HOTLINE_QUEUE_RING_SECONDS", 1),
            wrap_up_seconds=_whole(env, "HOTLINE_QUEUE_WRAP_UP_SECONDS"),
            announce_interval_seconds=announce,
            offer_after_seconds=number(
                env, "HOTLINE_QUEUE_OFFER_AFTER_SECONDS", cls.offer_after_seconds, 1
            ),
            sl_seconds=number(env, "HOTLINE_SL_SECONDS", cls.sl_seconds, 1),
            transcribe_agent=boolean(env, "HOTLINE_ASR_AGENT_CHANNEL", cls.transcribe_agent),
            callback_attempts=int(
                number(env, "HOTLINE_QUEUE_CALLBACK_ATTEMPTS", cls.callback_attempts, 1)
            ),
            callback_retry_seconds=number(
                env, "HOTLINE_QUEUE_CALLBACK_RETRY_SECONDS", cls.callback_retry_seconds, 1
            ),
            node_heartbeat_seconds=heartbeat,
            node_heartbeat_ttl_seconds=heartbeat_ttl,
            registration_grace_seconds=number(
                env,
                "HOTLINE_PRESENCE_REGISTRATION_GRACE_SECONDS",
                cls.registration_grace_seconds,
                0,
            ),
        )


def _optional(env: Mapping[str, str], name: str, minimum: float) -> float | None:
    return number(env, name, 0, minimum) if env.get(name, "").strip() else None


def _whole(env: Mapping[str, str], name: str) -> int | None:
    value = _optional(env, name, 0)
    if value is None:
        return None
    if not value.is_integer() or value > 3600:
        raise SettingsError(f"{name}={value:g}: expected whole seconds, 0 to 3600")
    return int(value)
