"""The agent presence machine, as the queue sees it (defined in :mod:`ticketing.presence`, which
the web console shares; agent_ui may not import ivr)."""

from ticketing.presence import (
    ALLOWED_TRANSITIONS,
    REQUESTABLE,
    AgentPresence,
    AgentState,
    Presence,
    PresenceError,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "REQUESTABLE",
    "AgentPresence",
    "AgentState",
    "Presence",
    "PresenceError",
]
