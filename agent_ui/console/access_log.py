"""PDPA: every listen to a recording is logged.

A write, so it belongs in ticketing; it lives here until a ticketing service offers it (see the
UI report: ``CallService.log_recording_access(recording_id, user_id, purpose)``).
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from ticketing.models import RecordingAccess
from ticketing.timeutil import utcnow


def log_recording_access(
    sessions: sessionmaker[Session], recording_id: int, user_id: int | None, purpose: str = "listen"
) -> None:
    with sessions.begin() as session:
        session.add(
            RecordingAccess(
                recording_id=recording_id, user_id=user_id, at=utcnow(), purpose=purpose
            )
        )
