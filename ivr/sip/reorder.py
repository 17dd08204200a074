"""Caller RTP back in sequence order, with a place kept for every lost packet.

UDP may reorder and lose packets; a recording must keep its length and its order. ``Reorder``
holds packets that arrive ahead of a missing one for at most ``window`` packets (or
``max_hold`` seconds), then gives up on the missing one and releases ``None`` in its place (the
media process writes silence there). Sequence numbers wrap at 2^16; a jump larger than
``max_gap`` is a new start (a restarted sender), not a loss, so it is never filled.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")

WINDOW = 3  # packets held waiting for a late one: 60 ms at 20 ms per packet
MAX_HOLD = 0.08  # seconds a held packet waits before the gap before it is given up
MAX_GAP = 50  # a longer jump (1 s of packets) is a resynchronisation, not loss


class Reorder(Generic[T]):
    def __init__(self, window: int = WINDOW, max_gap: int = MAX_GAP) -> None:
        self.window = window
        self.max_gap = max_gap
        self._next: int | None = None
        self._held: dict[int, T] = {}
        self._held_since = 0.0
        self.lost = 0  # places given up (filled by the caller)
        self.late = 0  # packets that came after their place was given up, or twice

    @property
    def holding(self) -> int:
        return len(self._held)

    def push(self, sequence: int, item: T, now: float) -> list[T | None]:
        """``item`` with RTP sequence number ``sequence``; what can be released, in order."""
        if self._next is None:
            self._next = sequence
        delta = (sequence - self._next) & 0xFFFF
        if delta >= 0x8000:  # behind what was released
            if (self._next - sequence) & 0xFFFF <= self.max_gap:
                self.late += 1
                return []
            delta = self.max_gap + 1  # far behind: the sender started again
        if delta > self.max_gap:
            out = self.reset()
            self._next = sequence
            return [*out, *self._release(sequence, item)]
        if delta == 0:
            return self._release(sequence, item)
        if sequence in self._held:
            self.late += 1
            return []
        if not self._held:
            self._held_since = now
        self._held[sequence] = item
        return self._skip() if len(self._held) > self.window else []

    def flush(self, now: float, max_hold: float = MAX_HOLD) -> list[T | None]:
        """Give up the gaps once held packets have waited ``max_hold``."""
        out: list[T | None] = []
        while self._held and now - self._held_since >= max_hold:
            out += self._skip()
        return out

    def reset(self) -> list[T | None]:
        """Release every held packet in order without filling (a new source or SSRC)."""
        out: list[T | None] = []
        if self._next is not None:
            start = self._next
            for sequence in sorted(self._held, key=lambda s: (s - start) & 0xFFFF):
                out.append(self._held[sequence])
        self._held.clear()
        self._next = None
        return out

    def _release(self, sequence: int, item: T) -> list[T | None]:
        out: list[T | None] = [item]
        self._next = (sequence + 1) & 0xFFFF
        while self._next in self._held:
            out.append(self._held.pop(self._next))
            self._next = (self._next + 1) & 0xFFFF
        return out

    def _skip(self) -> list[T | None]:
        """Give up the places up to the first held packet, then release what follows it."""
        assert self._next is not None
        out: list[T | None] = []
        while self._next not in self._held:
            out.append(None)
            self.lost += 1
            self._next = (self._next + 1) & 0xFFFF
        out += self._release(self._next, self._held.pop(self._next))
        return out
