"""SIP accounts that may REGISTER to Kamailio: the project's own subscriber table.

Kamailio's auth_db reads ``sip_subscribers`` directly (username, domain, ha1, ha1b; see
ivr/kamailio_cfg/template.cfg), so only digest hashes are stored, never a clear password. The IVR
nodes have one account each; agents' phones are added the same way (``kind = "agent"``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.errors import InvalidInput
from ticketing.models import SipSubscriber
from ticketing.timeutil import utcnow

log = logging.getLogger(__name__)

SIP_REALM = "hotline1567"  # the digest realm Kamailio challenges with (HA1 depends on it)
DISABLED_HA1 = "!"  # matches no digest response
IVR_PASSWORD_FILE = "sip-ivr-password.txt"


def digest_ha1(username: str, password: str, realm: str = SIP_REALM) -> str:
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()


class SipAccountService:
    def __init__(self, sessions: sessionmaker[Session], realm: str = SIP_REALM) -> None:
        self._sessions = sessions
        self._realm = realm

    def set_password(self, username: str, password: str, *, kind: str = "ivr") -> None:
        """Create the account or change its password (and enable it)."""
        if not username or any(c in username for c in ":@ \t\r\n\"'"):
            raise InvalidInput(f"unusable SIP user name {username!r}", "username")
        if len(password) < 8:
            raise InvalidInput("a SIP password has at least 8 characters", "password")
        ha1 = digest_ha1(username, password, self._realm)
        with self._sessions.begin() as session:
            account = session.scalar(
                select(SipSubscriber).where(SipSubscriber.username == username)
            )
            if account is None:
                account = SipSubscriber(username=username, kind=kind)
                session.add(account)
            account.ha1 = ha1
            account.ha1b = hashlib.md5(  # digest auth is MD5 by definition
                f"{username}@{self._realm}:{self._realm}:{password}".encode()
            ).hexdigest()
            account.active = True
            account.updated_at = utcnow()
        log.info("SIP account %s (%s) set", username, kind)

    def disable(self, username: str) -> bool:
        with self._sessions.begin() as session:
            account = session.scalar(
                select(SipSubscriber).where(SipSubscriber.username == username)
            )
            if account is None:
                return False
            account.ha1 = account.ha1b = DISABLED_HA1
            account.active = False
            account.updated_at = utcnow()
        return True

    def usernames(self) -> list[str]:
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(SipSubscriber.username)
                    .where(SipSubscriber.active.is_(True))
                    .order_by(SipSubscriber.username)
                )
            )


def ensure_ivr_password(accounts: SipAccountService, username: str, data_dir: Path) -> str:
    """The IVR's SIP password: generated once into the data dir (0600) and stored as its HA1."""
    path = data_dir / IVR_PASSWORD_FILE
    if path.exists():
        password = path.read_text(encoding="utf-8").strip()
    else:
        password = secrets.token_urlsafe(18)
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(password + "\n")
        log.info("generated the IVR's SIP password into %s", path)
    accounts.set_password(username, password, kind="ivr")
    return password
