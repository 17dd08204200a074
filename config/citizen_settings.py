"""Closing the loop with the citizen (issue 12): when and how often the result call is placed.

- ``HOTLINE_CALL_HOURS`` ``HH:MM-HH:MM`` Bangkok time (default ``08:00-20:00``; ``00:00-24:00`` is
  any time); no attempt starts outside it nor on a holiday of ``holidays.toml``.
- ``HOTLINE_RESULT_CALL_ATTEMPTS`` (3), ``HOTLINE_RESULT_CALL_SPACING`` (seconds between attempts,
  7200), ``HOTLINE_RESULT_CALL_CONCURRENCY`` (outbound result calls per IVR node, 4),
  ``HOTLINE_RESULT_CALL_RING_TIMEOUT`` (seconds, 40), ``HOTLINE_RESULT_CALL_LEASE`` (seconds a node
  holds a claimed attempt before another may take it over, 600),
  ``HOTLINE_RESULT_CALL_PROGRESS_CATEGORIES`` (category codes whose progress reports are phoned
  too; empty = only results), ``HOTLINE_RESULT_CALLS`` (on/off, on), ``HOTLINE_STATUS_LINE_NUMBER``
  (the number the message left on an answering machine names, 1567).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time

from config.envparse import SettingsError, boolean, items, number, positive


def call_hours(env: Mapping[str, str], name: str, default: str) -> tuple[time, time | None]:
    """``HH:MM-HH:MM``; the end ``24:00`` is midnight (returned as None)."""
    value = (env.get(name) or default).strip()
    start_text, dash, end_text = value.partition("-")
    try:
        if not dash:
            raise ValueError
        start = _clock(start_text)
        end = None if end_text.strip() == "24:00" else _clock(end_text)
    except ValueError:
        raise SettingsError(
            f"{name}={value!r}: expected HH:MM-HH:MM (Bangkok time), e.g. 08:00-20:00"
        ) from None
    if start is None or (end is not None and end <= start):
        raise SettingsError(f"{name}={value!r}: the end must be after the start")
    return start, end


def _clock(text: str) -> time:
    hour, colon, minute = text.strip().partition(":")
    if not (colon and hour.isdigit() and minute.isdigit() and len(minute) == 2):
        raise ValueError(text)
    return time(int(hour), int(minute))


@dataclass(frozen=True)
class CitizenSettings:
    enabled: bool = True
    call_start: time = time(8, 0)
    call_end: time | None = time(20, 0)  # None: until midnight
    attempts: int = 3
    spacing: float = 7200.0
    concurrency: int = 4
    ring_timeout: float = 40.0
    lease: float = 600.0
    progress_categories: tuple[str, ...] = ()
    status_line_number: str = "1567"
    caller_id: str = "1567"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CitizenSettings:
        start, end = call_hours(env, "HOTLINE_CALL_HOURS", "08:00-20:00")
        status_number = (env.get("HOTLINE_STATUS_LINE_NUMBER") or "1567").strip()
        if not status_number.isdigit():
            raise SettingsError(
                f"HOTLINE_STATUS_LINE_NUMBER={status_number!r}: expected digits, e.g. 1567"
            )
        return cls(
            enabled=boolean(env, "HOTLINE_RESULT_CALLS", True),
            call_start=start,
            call_end=end,
            attempts=positive(env, "HOTLINE_RESULT_CALL_ATTEMPTS", cls.attempts),
            spacing=number(env, "HOTLINE_RESULT_CALL_SPACING", cls.spacing, 1),
            concurrency=positive(env, "HOTLINE_RESULT_CALL_CONCURRENCY", cls.concurrency),
            ring_timeout=number(env, "HOTLINE_RESULT_CALL_RING_TIMEOUT", cls.ring_timeout, 1),
            lease=number(env, "HOTLINE_RESULT_CALL_LEASE", cls.lease, 5),
            progress_categories=items(env, "HOTLINE_RESULT_CALL_PROGRESS_CATEGORIES"),
            status_line_number=status_number,
            caller_id=status_number,
        )
