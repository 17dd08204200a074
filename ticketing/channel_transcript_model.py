"""One transcript per side of a call-taker's conversation (issue 13: two-channel recording).

The draft's own ``transcript`` stays the caller's words (the IVR's mono recording, or the
caller's side of a conversation); each decoded recording side is kept here too, keyed by its
recording row, with its channel (``mono``, ``caller``, ``agent``). Imported at the end of
models.py so it is part of the one schema (models.py is at its size limit).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.model_base import Base
from ticketing.timeutil import utcnow


class ChannelTranscript(Base):
    __tablename__ = "channel_transcripts"
    __table_args__ = (Index("ix_channel_transcripts_ticket", "ticket_id"),)

    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    channel: Mapped[str] = mapped_column(String(8))  # mono | caller | agent
    transcript: Mapped[str] = mapped_column(Text, default="")
    words: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
