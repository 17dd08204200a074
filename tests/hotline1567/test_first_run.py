"""First start: the IVR's SIP password is generated into the data dir (0600), never `ivr`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from config.settings import Settings
from hotline1567.first_run import ensure_ivr_account
from ticketing.db import make_engine, make_sessionmaker, upgrade_schema
from ticketing.models import SipSubscriber
from ticketing.sip_accounts import IVR_PASSWORD_FILE, SipAccountService, digest_ha1


def test_the_ivr_password_is_generated_once_and_stored_as_ha1(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    upgrade_schema(settings.effective_database_url)
    sessions = make_sessionmaker(make_engine(settings.effective_database_url))
    accounts = SipAccountService(sessions)
    password = ensure_ivr_account(accounts, settings)
    assert password != "ivr" and len(password) >= 20
    path = tmp_path / IVR_PASSWORD_FILE
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert path.read_text().strip() == password
    assert ensure_ivr_account(accounts, settings) == password  # the same on every start
    with sessions() as session:
        (row,) = session.scalars(select(SipSubscriber)).all()
        assert (row.username, row.kind) == ("ivr", "ivr")
        assert row.ha1 == digest_ha1("ivr", password)
    # an operator's own HOTLINE_SIP_PASSWORD wins, and its HA1 replaces the generated one
    own = Settings(
        data_dir=tmp_path,
        sip_password="operator-set",
        sip_password_set=True,
    )
    assert ensure_ivr_account(accounts, own) == "operator-set"
    with sessions() as session:
        assert session.scalars(select(SipSubscriber.ha1)).one() == digest_ha1("ivr", "operator-set")
