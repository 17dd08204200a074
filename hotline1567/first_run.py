"""First start: one account per role and the IVR's SIP account, passwords written for the operator
into 0600 files under the data dir (never printed)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from config.settings import Settings
from ticketing.sip_accounts import SipAccountService, ensure_ivr_password
from ticketing.users import UserService

FIRST_USERS = (("admin", "admin"), ("supervisor", "supervisor"), ("agent", "agent"))


def ensure_first_users(users: UserService, data_dir: Path) -> Path | None:
    """Create the first accounts when there are none; returns the credentials file if created."""
    if users.list_users():
        return None
    lines = ["# hotline1567 first accounts — change these passwords after signing in.\n"]
    for name, role in FIRST_USERS:
        password = secrets.token_urlsafe(12)
        users.add_user(name, password, role, display_name=name)
        lines.append(f"{name}\t{role}\t{password}\n")
    path = data_dir / "initial-credentials.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
    return path


def ensure_ivr_account(accounts: SipAccountService, settings: Settings) -> str:
    """The password the IVR registers to the embedded Kamailio with: HOTLINE_SIP_PASSWORD when
    the operator set one, else one generated once into the data dir; its HA1 is stored."""
    if settings.sip_password_set:
        accounts.set_password(settings.sip_user, settings.sip_password, kind="ivr")
        return settings.sip_password
    return ensure_ivr_password(accounts, settings.sip_user, settings.data_dir)
