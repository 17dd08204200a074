"""Users, roles, passwords (argon2, common ones refused), API tokens (stored hashed), sign-in
with throttling (``login_throttle``) and revocable console sessions (``web_sessions``)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from datetime import timedelta
from functools import cache
from importlib import resources
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ticketing import login_throttle
from ticketing.actors import Actor
from ticketing.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from ticketing.login_throttle import LoginThrottled
from ticketing.models import ApiToken, Role, User
from ticketing.timeutil import as_utc, utcnow
from ticketing.web_sessions import WebSessions, actor_for

log = logging.getLogger(__name__)

TOKEN_PREFIX = "h1567_"
MIN_PASSWORD_LENGTH = 8

__all__ = ["LoginThrottled", "UserService", "actor_for", "common_passwords", "hash_token"]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@cache
def common_passwords() -> frozenset[str]:
    """The 10,000 most common passwords (shipped as package data), lower-cased."""
    text = resources.files("ticketing.data").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line and not line.startswith("#")
    )


def user_to_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "provinces": list(user.provinces or []),
        "active": user.active,
        "locked": False,  # accounts are never locked; sign-ins are throttled per address
        "agency_code": user.agency_code,
    }


class UserService:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        # Lighter than argon2's default memory cost so a 2-core node signs in many agents at
        # shift change; still far above bcrypt-class work (see README, security).
        self._hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
        self.web_sessions = WebSessions(sessions)

    def add_user(
        self,
        username: str,
        password: str,
        role: str,
        *,
        display_name: str = "",
        provinces: Sequence[str] = (),
    ) -> dict[str, Any]:
        username = username.strip()
        if (
            not username
            or len(username) > 64
            or not username.replace(".", "").replace("_", "").replace("-", "").isalnum()
        ):
            raise InvalidInput("username: 1-64 letters, digits, '.', '_' or '-'", "username")
        if role not in Role.ALL:
            raise InvalidInput(f"role must be one of {', '.join(Role.ALL)}", "role")
        self._check_password(password, username)
        try:
            with self._sessions.begin() as session:
                user = User(
                    username=username,
                    display_name=display_name or username,
                    password_hash=self._hasher.hash(password),
                    role=role,
                    provinces=list(provinces),
                )
                session.add(user)
                session.flush()
                return user_to_dict(user)
        except IntegrityError as exc:
            raise Conflict(f"user {username!r} exists already") from exc

    def update_user(
        self,
        username: str,
        *,
        role: str | None = None,
        active: bool | None = None,
        provinces: Sequence[str] | None = None,
        password: str | None = None,
        display_name: str | None = None,
    ) -> dict[str, Any]:
        with self._sessions.begin() as session:
            user = self._user(session, username)
            if role is not None:
                if role not in Role.ALL:
                    raise InvalidInput(f"role must be one of {', '.join(Role.ALL)}", "role")
                user.role = role
            if active is not None:
                user.active = active
            if provinces is not None:
                user.provinces = list(provinces)
            if display_name is not None:
                user.display_name = display_name
            if password is not None:
                self._check_password(password, user.username)
                user.password_hash = self._hasher.hash(password)
            user_id, data = user.id, user_to_dict(user)
        if password is not None:
            self.web_sessions.close_all(user_id, "password changed")
        if active is False:
            self.web_sessions.close_all(user_id, "user disabled")
        return data

    def sign_out_everywhere(self, username: str) -> int:
        """An admin ends every console session of a user (a lost laptop, a shared screen)."""
        with self._sessions() as session:
            user_id = self._user(session, username).id
        return self.web_sessions.close_all(user_id, "signed out everywhere")

    def list_users(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            return [user_to_dict(u) for u in session.scalars(select(User).order_by(User.username))]

    def authenticate(self, username: str, password: str, address: str = "") -> Actor:
        """Check a password. Failures are throttled by address and by (name, address), never by
        name alone, and the reply and the work done are the same for unknown names."""
        with self._sessions() as session:
            verdict = login_throttle.check(session, username, address)
            user = session.scalars(select(User).where(User.username == username)).one_or_none()
            stored = user.password_hash if user is not None and user.active else None
        if not verdict.allowed:
            raise LoginThrottled(verdict.retry_after)
        ok = False
        if stored is None:
            self._hasher.hash(password)  # same cost either way: no user enumeration by time
        else:
            try:
                ok = self._hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                ok = False
        for attempt in range(2):
            try:
                with self._sessions.begin() as session:
                    if ok:
                        login_throttle.record_success(session, username, address)
                        user = self._user(session, username)
                        if self._hasher.check_needs_rehash(user.password_hash):
                            user.password_hash = self._hasher.hash(password)
                        return actor_for(user)
                    verdict = login_throttle.record_failure(session, username, address)
                break
            except IntegrityError:
                if attempt:  # two first failures of one key raced; the second try updates
                    raise
        if not verdict.allowed:
            log.warning("sign-ins throttled for %.0f s from %s", verdict.retry_after, address)
            raise LoginThrottled(verdict.retry_after)
        raise AuthenticationFailed("wrong username or password")

    def actor_by_id(self, user_id: int) -> Actor | None:
        with self._sessions() as session:
            user = session.get(User, user_id)
            if user is None or not user.active:
                return None
            return actor_for(user)

    def create_token(self, username: str) -> str:
        """A new API token; only its hash is stored, so this is the one time it is seen."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._sessions.begin() as session:
            user = self._user(session, username)
            session.add(
                ApiToken(
                    user_id=user.id,
                    token_hash=hash_token(token),
                    prefix=token[: len(TOKEN_PREFIX) + 4],
                )
            )
        return token

    def revoke_token(self, token_or_prefix: str) -> int:
        with self._sessions.begin() as session:
            query = select(ApiToken).where(ApiToken.revoked_at.is_(None))
            if len(token_or_prefix) > len(TOKEN_PREFIX) + 4:
                query = query.where(ApiToken.token_hash == hash_token(token_or_prefix))
            else:
                query = query.where(ApiToken.prefix == token_or_prefix)
            tokens = list(session.scalars(query))
            for token in tokens:
                token.revoked_at = utcnow()
            return len(tokens)

    def actor_for_token(self, token: str) -> Actor:
        with self._sessions.begin() as session:
            row = session.scalars(
                select(ApiToken).where(ApiToken.token_hash == hash_token(token))
            ).one_or_none()
            if row is None or row.revoked_at is not None:
                raise AuthenticationFailed("invalid or revoked token")
            user = row.user
            if not user.active:
                raise AuthenticationFailed("the token's user is disabled")
            now = utcnow()
            if row.last_used_at is None or now - as_utc(row.last_used_at) > timedelta(minutes=5):
                row.last_used_at = now  # bounded writes: not one per request
            return actor_for(user)

    @staticmethod
    def _check_password(password: str, username: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput(
                f"a password needs at least {MIN_PASSWORD_LENGTH} characters", "password"
            )
        lowered = password.strip().lower()
        if lowered == username.strip().lower():
            raise InvalidInput("the password must not be the user name", "password")
        if lowered in common_passwords():
            raise InvalidInput(
                "this password is one of the most common ones; choose another", "password"
            )

    @staticmethod
    def _user(session: Session, username: str) -> User:
        user = session.scalars(select(User).where(User.username == username)).one_or_none()
        if user is None:
            raise NotFound(f"no user {username!r}")
        return user
