"""Who is registered, read from Kamailio's ``location`` table as Kamailio writes it: Julian day
numbers through db_sqlite, naive local timestamps through db_postgres (the Kamailio end to end
is tests/ivr/sip/test_kamailio_routes.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from ticketing.db import make_engine, make_sessionmaker
from ticketing.sip_registrations import SipRegistrations, kamailio_time

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def kamailio_value(dialect: str, at: datetime) -> object:
    if dialect == "sqlite":
        return at.timestamp() / 86400 + 2440587.5
    return at.astimezone().replace(tzinfo=None)  # the Kamailio host's local time


def test_registered_users_with_their_latest_expiry(database_url: str) -> None:
    engine = make_engine(database_url)
    rows = [
        ("alice", NOW + timedelta(minutes=2), "a1"),
        ("alice", NOW + timedelta(minutes=5), "a2"),  # a second phone
        ("bob", NOW - timedelta(seconds=1), "b1"),  # expired, not yet cleaned by Kamailio
        ("ivr1", NOW + timedelta(seconds=60), "i1"),
    ]
    with engine.begin() as connection:
        for user, expires, ruid in rows:
            connection.execute(
                text(
                    "INSERT INTO location (ruid, username, contact, expires, last_modified)"
                    " VALUES (:ruid, :user, :contact, :expires, :expires)"
                ),
                {
                    "ruid": ruid,
                    "user": user,
                    "contact": f"sip:{user}@127.0.0.1:5070",
                    "expires": kamailio_value(engine.dialect.name, expires),
                },
            )
    found = SipRegistrations(make_sessionmaker(engine)).registered_users(NOW)
    engine.dispose()
    assert set(found) == {"alice", "ivr1"}
    assert abs(found["alice"] - (NOW + timedelta(minutes=5))) < timedelta(seconds=1)
    assert found["ivr1"].tzinfo is not None


def test_kamailio_times_and_a_naive_now_is_refused() -> None:
    assert kamailio_time("2440587.5") == datetime(1970, 1, 1, tzinfo=UTC)
    assert kamailio_time("not a time") is None
    with pytest.raises(ValueError, match="timezone-aware"):
        SipRegistrations(None).registered_users(datetime(2026, 1, 1))  # type: ignore[arg-type]
