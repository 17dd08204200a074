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
from ticketing.models import AuditEvent, Recording, RecordingAccess, Ticket
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


def log_live_listen(sessions: sessionmaker[Session], call_id: str, user_id: int | None,
                    by: str) -> int:  # fmt: skip
    """A supervisor's listen-in to a live call (issue 13), logged like a recording listen: one
    access row per recording of the call's conversation (purpose ``listen_live``) and the
    ``call_listened`` audit on the call's draft. Returns the access rows written."""
    now = utcnow()
    with sessions.begin() as session:
        recordings = list(
            session.scalars(
                select(Recording.id).where(
                    Recording.call_id == call_id, Recording.channel.is_not(None)
                )
            )
        )
        for recording_id in recordings:
            session.add(RecordingAccess(recording_id=recording_id, user_id=user_id, at=now,
                                        purpose="listen_live"))  # fmt: skip
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.call_id == call_id).limit(1))
        session.add(
            AuditEvent(ticket_id=ticket_id, actor=f"user:{by}", action="call_listened",
                       before={}, after={"call_id": call_id, "at": now.isoformat()}, at=now)
        )  # fmt: skip
    return len(recordings)
