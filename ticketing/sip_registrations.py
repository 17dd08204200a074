"""Who has a SIP phone registered now: Kamailio's ``location`` table, read for the presence
reconciler (an agent whose phone is not registered cannot be rung).

Kamailio writes the table (usrloc ``db_mode`` 1 on PostgreSQL; on SQLite written back every 5 s,
so a phone's first registration shows here up to 5 s late; see ivr/kamailio_cfg/template.cfg) and
deletes expired bindings on its own timer, so rows whose ``expires`` has passed are ignored here
rather than trusted. Kamailio's db_postgres writes naive timestamps in its host's local time, its
db_sqlite writes Julian day numbers (UTC) into the same DATETIME column, so the column is read as
text and both are understood; the result is aware UTC. Several bindings of one user (two phones)
count as the latest expiry.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.sip_location_model import SipLocation

UNIX_EPOCH_JULIAN_DAY = 2440587.5


def kamailio_time(value: str) -> datetime | None:
    """A Kamailio ``expires`` value as an aware UTC datetime; None if it is neither form."""
    text = value.strip()
    try:
        julian = float(text)
    except ValueError:
        pass
    else:  # db_sqlite: a Julian day number
        return datetime.fromtimestamp((julian - UNIX_EPOCH_JULIAN_DAY) * 86400, UTC)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    return parsed.astimezone().astimezone(UTC)  # naive: the Kamailio host's local time


class SipRegistrations:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def registered_users(self, now: datetime) -> dict[str, datetime]:
        """User name -> when its (latest) registration expires, for bindings still valid at now."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        found: dict[str, datetime] = {}
        with self._sessions() as session:
            rows = session.execute(
                select(SipLocation.username, cast(SipLocation.expires, String))
            ).all()
        for username, expires in rows:
            at = kamailio_time(expires) if username and expires else None
            if at is not None and at > now and (username not in found or at > found[username]):
                found[username] = at
        return found


def registered_users(sessions: sessionmaker[Session], now: datetime) -> dict[str, datetime]:
    return SipRegistrations(sessions).registered_users(now)
