"""Commands for a live call, sent to the IVR node that holds it (issue 13: transfer, hold).

One Redis stream per node, ``hotline:{calls}:commands:<node>``: the web process (an officer's
console) adds ``{call_id, action, target, by}``; the call's session on that node reads the stream
from the moment its conversation started and acts on the entries for its call: ``transfer`` to
``queue`` (back to the queue, at the head) or ``hub:<number>`` (a blind transfer through the
trunk to a number of ``hubs.toml``); ``hold`` / ``resume`` (the caller) and ``mute`` /
``unmute`` (the officer's microphone); ``listen`` to ``agent:<supervisor>`` (the node dials the
supervisor's phone and taps the conversation into it; logged here, when asked, like a recording
listen: :func:`ticketing.listens.log_live_listen`). The transfer is recorded by the session when
done (:meth:`ticketing.call_queue.CallQueueRecords.transferred`). Redis errors: ``BusUnavailable``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy.orm import Session, sessionmaker

from config.hubs import Hub
from ticketing.call_queue_model import Call
from ticketing.errors import BusUnavailable, Conflict, InvalidInput, NotFound
from ticketing.listens import log_live_listen

log = logging.getLogger(__name__)

STREAM = "hotline:{{calls}}:commands:{node}"
MAXLEN = 1000
LEG_ACTIONS = ("hold", "resume", "mute", "unmute")


def stream_key(node: str) -> str:
    return STREAM.format(node=node)


@dataclass(frozen=True)
class CallCommand:
    call_id: str
    action: str  # transfer
    target: str  # queue | hub:<number>
    by: str  # the officer's user name


class CallCommands:
    def __init__(
        self, sessions: sessionmaker[Session], client: redis.Redis, hubs: dict[str, Hub]
    ) -> None:
        self._sessions = sessions
        self._redis = client
        self.hubs = hubs

    def transfer(self, call_id: str, target: str, *, by: str) -> dict[str, Any]:
        if target.startswith("agent:") and len(target) > len("agent:"):
            return self._send(call_id, "transfer", target, by)  # the node checks availability
        if target != "queue":
            number = target.removeprefix("hub:")
            if not target.startswith("hub:") or number not in self.hubs:
                known = ", ".join(f"hub:{n}" for n in sorted(self.hubs))
                raise InvalidInput(f"transfer to queue, agent:<user> or one of {known}", "target")
        return self._send(call_id, "transfer", target, by)

    def listen(self, call_id: str, *, by: str, user_id: int | None) -> dict[str, Any]:
        """A supervisor's listen-in: their own phone (``agent:<by>``) is dialled by the node."""
        sent = self._send(call_id, "listen", f"agent:{by}", by)
        log_live_listen(self._sessions, call_id, user_id, by)
        return sent

    def leg(self, call_id: str, action: str, *, by: str) -> dict[str, Any]:
        """hold / resume (the caller), mute / unmute (the officer's microphone)."""
        if action not in LEG_ACTIONS:
            raise InvalidInput(f"action is one of {', '.join(LEG_ACTIONS)}", "action")
        return self._send(call_id, action, "", by)

    def _send(self, call_id: str, action: str, target: str, by: str) -> dict[str, Any]:
        with self._sessions() as session:
            call = session.get(Call, call_id)
            if call is None:
                raise NotFound(f"no call {call_id}")
            if call.ended_at is not None or call.agent_answered_at is None:
                raise Conflict(f"call {call_id} is not with an officer now")
            node = call.node
        fields: dict[Any, Any] = {"call_id": call_id, "action": action, "target": target,
                                  "by": by}  # fmt: skip
        try:
            self._redis.xadd(stream_key(node), fields, maxlen=MAXLEN, approximate=True)
        except (redis.RedisError, OSError) as exc:
            raise BusUnavailable(f"call commands unavailable: {exc}") from exc
        log.info("call %s: %s %s asked by %s (node %s)", call_id, action, target, by, node)
        return {"call_id": call_id, "action": action, "target": target, "node": node}

    def reader(self, node: str, call_id: str) -> CommandReader:
        return CommandReader(self._redis, node, call_id)


class CommandReader:
    """The call's session reads its node's stream (non-blocking) for commands to this call."""

    def __init__(self, client: redis.Redis, node: str, call_id: str) -> None:
        self._redis = client
        self._key = stream_key(node)
        self._call_id = call_id
        newest: Any = client.xrevrange(self._key, count=1)  # "now": the conversation's start
        self._last = _text(newest[0][0]) if newest else "0-0"

    def next(self) -> CallCommand | None:
        reply: Any = self._redis.xread({self._key: self._last}, count=100)
        for _stream, entries in reply or []:
            for stream_id, raw in entries:
                self._last = _text(stream_id)
                data = {_text(k): _text(v) for k, v in raw.items()}
                if data.get("call_id") == self._call_id:
                    return CallCommand(
                        self._call_id, data.get("action", ""), data.get("target", ""),
                        data.get("by", ""),
                    )  # fmt: skip
        return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
