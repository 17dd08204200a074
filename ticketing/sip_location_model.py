"""Kamailio's registrations (usrloc ``location``, Kamailio 5.6 schema), written by Kamailio only;
imported at the end of models.py so it is part of the one schema (models.py is at its size limit).
Times are naive, in the Kamailio host's local time (as Kamailio writes them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.model_base import Base


class SipLocation(Base):
    __tablename__ = "location"
    __table_args__ = (
        UniqueConstraint("ruid", name="location_ruid_idx"),
        Index("location_account_contact_idx", "username", "domain", "contact"),
        Index("location_expires_idx", "expires"),
        Index("location_tcpcon_idx", "connection_id"),
        Index("location_connection_idx", "server_id", "connection_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ruid: Mapped[str] = mapped_column(String(64), server_default="")
    username: Mapped[str] = mapped_column(String(64), server_default="")
    domain: Mapped[str | None] = mapped_column(String(64))
    contact: Mapped[str] = mapped_column(String(512), server_default="")
    received: Mapped[str | None] = mapped_column(String(128))
    path: Mapped[str | None] = mapped_column(String(512))
    expires: Mapped[datetime] = mapped_column(DateTime(), server_default="2030-05-28 21:32:15")
    q: Mapped[float] = mapped_column(Float(), server_default="1.0")
    callid: Mapped[str] = mapped_column(String(255), server_default="Default-Call-ID")
    cseq: Mapped[int] = mapped_column(server_default="1")
    last_modified: Mapped[datetime] = mapped_column(
        DateTime(), server_default="2000-01-01 00:00:01"
    )
    flags: Mapped[int] = mapped_column(server_default="0")
    cflags: Mapped[int] = mapped_column(server_default="0")
    user_agent: Mapped[str] = mapped_column(String(255), server_default="")
    socket: Mapped[str | None] = mapped_column(String(64))
    methods: Mapped[int | None] = mapped_column()
    instance: Mapped[str | None] = mapped_column(String(255))
    reg_id: Mapped[int] = mapped_column(server_default="0")
    server_id: Mapped[int] = mapped_column(server_default="0")
    connection_id: Mapped[int] = mapped_column(server_default="0")
    keepalive: Mapped[int] = mapped_column(server_default="0")
    partition: Mapped[int] = mapped_column(server_default="0")
