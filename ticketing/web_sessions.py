"""Server-side console sessions: the cookie holds a random token, the table its hash, so a
session ends for real (logout, password change, user disabled, admin "sign out everywhere")."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ticketing.actors import Actor
from ticketing.models import User, WebSession
from ticketing.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

TOUCH_EVERY = timedelta(minutes=1)  # bounded writes: not one per request


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def actor_for(user: User) -> Actor:
    return Actor(
        name=user.username,
        role=user.role,
        user_id=user.id,
        provinces=tuple(user.provinces or ()),
        agency_code=user.agency_code,
    )


class WebSessions:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def open(self, user_id: int, address: str = "") -> str:
        """A new session for a signed-in user; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        with self._sessions.begin() as session:
            session.add(WebSession(token_hash=_hash(token), user_id=user_id, address=address[:64]))
        return token

    def actor(self, token: str) -> Actor | None:
        """The session's user, or None when the session was ended or the user disabled."""
        if not token:
            return None
        with self._sessions.begin() as session:
            row = session.get(WebSession, _hash(token))
            if row is None or row.revoked_at is not None:
                return None
            user = session.get(User, row.user_id)
            if user is None or not user.active:
                return None
            now = utcnow()
            if now - as_utc(row.last_seen_at) > TOUCH_EVERY:
                row.last_seen_at = now
            return actor_for(user)

    def close(self, token: str, why: str = "logout") -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(WebSession)
                .where(WebSession.token_hash == _hash(token), WebSession.revoked_at.is_(None))
                .values(revoked_at=utcnow(), revoked_why=why)
            )

    def close_all(self, user_id: int, why: str) -> int:
        """Ends every open session of a user; returns how many."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(WebSession)
                .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
                .values(revoked_at=utcnow(), revoked_why=why)
            )
            count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            log.info("user id %s: %d session(s) ended (%s)", user_id, count, why)
        return count

    def open_count(self, user_id: int) -> int:
        with self._sessions() as session:
            rows = session.scalars(
                select(WebSession.token_hash).where(
                    WebSession.user_id == user_id, WebSession.revoked_at.is_(None)
                )
            )
            return len(list(rows))
