"""Sign-in throttling by client address and by (user name, address), with growing delays.

Nothing here depends on whether the user name exists, so the replies (and their timing) are the
same for real and made-up names. Failures from one address never slow a user down at another
address; and a user who has signed in successfully from an address keeps being let try from it
even while that address as a whole is throttled by someone else's failures (only their own
failures there count against them). API tokens are not sign-ins and are never throttled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ticketing.errors import AuthenticationFailed
from ticketing.models import LoginThrottle
from ticketing.timeutil import as_utc, utcnow

PAIR_FREE_FAILURES = 4  # the 5th wrong password in a row from one place starts the delays
ADDRESS_FREE_FAILURES = 20  # many names from one address: someone guessing
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)  # a quiet hour wipes the slate
TRUST_SUCCESS_FOR = timedelta(days=30)


class LoginThrottled(AuthenticationFailed):
    """Too many failures from here: the same reply whether or not the user name exists."""

    code = "throttled"

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed sign-ins from here; try again in {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: float = 0.0  # seconds


def _key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "replace")).hexdigest()


def pair_key(username: str, address: str) -> str:
    return _key("pair", username.strip().lower(), address)


def address_key(address: str) -> str:
    return _key("address", address)


def _delay(failures: int, free: int) -> timedelta:
    if failures <= free:
        return timedelta(0)
    return min(FIRST_DELAY * (2 ** min(failures - free - 1, 16)), MAX_DELAY)


def _row(session: Session, key: str, now: datetime) -> LoginThrottle:
    row = session.get(LoginThrottle, key, with_for_update=True)
    if row is None:
        row = LoginThrottle(key_hash=key, failures=0)
        session.add(row)
    elif row.last_failure_at is not None and now - as_utc(row.last_failure_at) > FORGET_AFTER:
        row.failures = 0
        row.blocked_until = None
    return row


def _blocked_for(row: LoginThrottle | None, now: datetime) -> float:
    if row is None or row.blocked_until is None:
        return 0.0
    return max((as_utc(row.blocked_until) - now).total_seconds(), 0.0)


def check(session: Session, username: str, address: str) -> Verdict:
    """May this attempt be tried now?"""
    now = utcnow()
    pair = session.get(LoginThrottle, pair_key(username, address))
    wait = _blocked_for(pair, now)
    trusted = (
        pair is not None
        and pair.last_success_at is not None
        and now - as_utc(pair.last_success_at) < TRUST_SUCCESS_FOR
    )
    if not trusted:
        wait = max(wait, _blocked_for(session.get(LoginThrottle, address_key(address)), now))
    return Verdict(allowed=wait <= 0, retry_after=round(wait, 1))


def record_failure(session: Session, username: str, address: str) -> Verdict:
    """Counts a wrong password; the verdict says whether the next attempt must wait."""
    now = utcnow()
    for key, free in (
        (pair_key(username, address), PAIR_FREE_FAILURES),
        (address_key(address), ADDRESS_FREE_FAILURES),
    ):
        row = _row(session, key, now)
        row.failures += 1
        row.last_failure_at = now
        delay = _delay(row.failures, free)
        row.blocked_until = now + delay if delay else None
    session.flush()
    return check(session, username, address)


def record_success(session: Session, username: str, address: str) -> None:
    now = utcnow()
    row = _row(session, pair_key(username, address), now)
    row.failures = 0
    row.blocked_until = None
    row.last_success_at = now
