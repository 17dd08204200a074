"""``hotline1567 user sip-password NAME``: the agent's phone credentials stored as digest HA1."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline1567.cli import main
from ticketing.container import Services
from ticketing.models import SipSubscriber
from ticketing.sip_accounts import SIP_REALM, digest_ha1


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, services: Services, tmp_path: Path) -> Services:
    for key in ("HOTLINE_CONFIG_DIR", "HOTLINE_REDIS_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", services.settings.effective_database_url)
    monkeypatch.setenv("HOTLINE_SECRET_KEY", "test")
    services.users.add_user("somchai", "somchai-password-1", "agent")
    return services


def _account(services: Services, name: str) -> SipSubscriber | None:
    with services.sessions() as session:
        return session.scalar(select(SipSubscriber).where(SipSubscriber.username == name))


def test_password_from_stdin_is_stored_as_ha1(
    env: Services, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("phone-secret-77\n"))
    assert main(["user", "sip-password", "somchai"]) == 0
    account = _account(env, "somchai")
    assert account is not None and account.kind == "agent" and account.active
    assert account.ha1 == digest_ha1("somchai", "phone-secret-77", SIP_REALM)
    out = capsys.readouterr()
    assert out.out == "" and "phone-secret-77" not in out.err


def test_generate_prints_the_password_alone(
    env: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["user", "sip-password", "somchai", "--generate"]) == 0
    password = capsys.readouterr().out.strip()
    assert len(password) >= 20
    account = _account(env, "somchai")
    assert account is not None and account.ha1 == digest_ha1("somchai", password)


def test_unknown_user_and_short_password_fail_clearly(
    env: Services, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["user", "sip-password", "nobody", "--generate"]) == 1
    assert "no active user 'nobody'" in capsys.readouterr().err
    assert _account(env, "nobody") is None
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["user", "sip-password", "somchai"]) == 1
    assert "at least 8 characters" in capsys.readouterr().err
    assert _account(env, "somchai") is None
