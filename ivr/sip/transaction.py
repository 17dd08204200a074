"""RFC 3261 timers and retransmission, as plain objects driven by the caller's clock.

``Retransmit`` is one message resent at T1, 2·T1, 4·T1 … capped at T2 until it is answered or
64·T1 has passed: the UAS's 2xx until its ACK (Timers G and H, §13.3.1.4) and our BYE until its
final response (Timers E and F, §17.1.2.2). Nothing here reads a clock or touches a socket.
"""

from __future__ import annotations

from dataclasses import dataclass

T1 = 0.5  # RTT estimate
T2 = 4.0  # longest retransmit interval
TIMER_H = 64 * T1  # how long a 2xx waits for its ACK (and Timer F for a request)
RECENT_SECONDS = 64 * T1  # an ended Call-ID still gets 200 for a late BYE this long


@dataclass(frozen=True)
class Send:
    """A datagram for the transport."""

    data: bytes
    destination: tuple[str, int]


@dataclass
class Retransmit:
    send: Send
    started: float
    next_at: float
    interval: float = T1

    @classmethod
    def start(cls, send: Send, now: float) -> Retransmit:
        return cls(send, now, now + T1)

    def expired(self, now: float) -> bool:
        return now - self.started >= TIMER_H

    def due(self, now: float) -> bool:
        """True when it is time to resend (and the next interval is doubled, up to T2)."""
        if now < self.next_at:
            return False
        self.interval = min(self.interval * 2, T2)
        self.next_at = now + self.interval
        return True


def retry_delay(failures: int, cap: float) -> float:
    """Exponential backoff: 2, 4, 8 … seconds after 1, 2, 3 … failures, never above ``cap``."""
    return min(2.0 ** min(failures, 16), cap)
