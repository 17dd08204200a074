"""Recording listens for the access log (PDPA): one row per listen, however the bytes are asked.

A player asks for byte 0 when a listen starts and for later bytes when the listener seeks. A
request from byte 0 is a new listen; a request from a later byte is the seek of a listen only when
this user's listen of this recording was logged within the window, else it is a listen of its
own (``Range: bytes=1-`` fetches the whole file and must not go unlogged)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.errors import NotFound
from ticketing.models import Recording, RecordingAccess
from ticketing.timeutil import utcnow

LISTEN_WINDOW = timedelta(minutes=30)


def log_listen(
    sessions: sessionmaker[Session],
    recording_id: int,
    user_id: int | None,
    *,
    from_start: bool,
    window: timedelta = LISTEN_WINDOW,
) -> bool:
    """Writes the access row unless this request continues a logged listen; True if written."""
    now = utcnow()
    with sessions.begin() as session:
        if session.get(Recording, recording_id) is None:
            raise NotFound(f"no recording {recording_id}")
        if not from_start:
            recent = session.scalar(
                select(RecordingAccess.id)
                .where(
                    RecordingAccess.recording_id == recording_id,
                    RecordingAccess.user_id == user_id,
                    RecordingAccess.at >= now - window,
                )
                .limit(1)
            )
            if recent is not None:
                return False
        session.add(
            RecordingAccess(recording_id=recording_id, user_id=user_id, at=now, purpose="listen")
        )
    return True
