"""Users, roles, passwords (argon2), API tokens (stored hashed) and login lockout."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ticketing.actors import Actor
from ticketing.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from ticketing.models import ApiToken, Role, User
from ticketing.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

TOKEN_PREFIX = "h1567_"
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def actor_for(user: User) -> Actor:
    return Actor(
        name=user.username,
        role=user.role,
        user_id=user.id,
        provinces=tuple(user.provinces or ()),
        agency_code=user.agency_code,
    )


def user_to_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "provinces": list(user.provinces or []),
        "active": user.active,
        "locked": user.locked_until is not None and as_utc(user.locked_until) > utcnow(),
        "agency_code": user.agency_code,
    }


class UserService:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        # Lighter than argon2's default memory cost so a 2-core node signs in many agents at
        # shift change; still far above bcrypt-class work (see README, security).
        self._hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)

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
        self._check_password(password)
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
                self._check_password(password)
                user.password_hash = self._hasher.hash(password)
                user.failed_logins = 0
                user.locked_until = None
            return user_to_dict(user)

    def list_users(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            return [user_to_dict(u) for u in session.scalars(select(User).order_by(User.username))]

    def authenticate(self, username: str, password: str) -> Actor:
        """Check a password; repeated failures lock the account for a while."""
        with self._sessions.begin() as session:
            user = session.scalars(select(User).where(User.username == username)).one_or_none()
            if user is None or not user.active:
                self._hasher.hash(password)  # same cost either way: no user enumeration by time
                raise AuthenticationFailed("wrong username or password")
            now = utcnow()
            if user.locked_until is not None and as_utc(user.locked_until) > now:
                raise AuthenticationFailed("account locked after repeated failures; try later")
            try:
                self._hasher.verify(user.password_hash, password)
            except (VerificationError, InvalidHashError):
                user.failed_logins += 1
                if user.failed_logins >= MAX_FAILED_LOGINS:
                    user.locked_until = now + LOCKOUT
                    user.failed_logins = 0
                    log.warning("user %s locked after %d failures", username, MAX_FAILED_LOGINS)
                failed = True
            else:
                failed = False
                user.failed_logins = 0
                user.locked_until = None
                if self._hasher.check_needs_rehash(user.password_hash):
                    user.password_hash = self._hasher.hash(password)
            actor = actor_for(user)
        if failed:
            raise AuthenticationFailed("wrong username or password")
        return actor

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
    def _check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput(
                f"a password needs at least {MIN_PASSWORD_LENGTH} characters", "password"
            )

    @staticmethod
    def _user(session: Session, username: str) -> User:
        user = session.scalars(select(User).where(User.username == username)).one_or_none()
        if user is None:
            raise NotFound(f"no user {username!r}")
        return user
