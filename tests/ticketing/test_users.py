"""Passwords (common ones and the user name refused), throttling with growing delays, sessions
that end for real (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ticketing import login_throttle
from ticketing.container import Services
from ticketing.errors import AuthenticationFailed, InvalidInput
from ticketing.timeutil import utcnow
from ticketing.users import LoginThrottled, common_passwords


@pytest.mark.parametrize(
    "password", ["password", "Password1", "iloveyou", "qwertyuiop", "12345678"]
)
def test_common_passwords_are_refused(services: Services, password: str) -> None:
    with pytest.raises(InvalidInput, match="most common") as caught:
        services.users.add_user("noi", password, "agent")
    assert caught.value.field == "password"
    assert len(common_passwords()) == 10_000


def test_the_user_name_is_no_password(services: Services) -> None:
    with pytest.raises(InvalidInput, match="user name"):
        services.users.add_user("somsak.k", "Somsak.K", "agent")
    services.users.add_user("somsak.k", "long-Enough-77", "agent")
    with pytest.raises(InvalidInput, match="most common"):
        services.users.update_user("somsak.k", password="baseball")


def test_delays_grow_and_then_forgive(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    services.users.add_user("noi", "long-Enough-77", "agent")
    clock = [utcnow()]
    monkeypatch.setattr(login_throttle, "utcnow", lambda: clock[0])
    waits = []
    for _ in range(3):
        for _ in range(10):
            try:
                services.users.authenticate("noi", "wrong-one-99", "192.0.2.1")
            except LoginThrottled as exc:
                waits.append(exc.retry_after)
                break
            except AuthenticationFailed:
                continue
        clock[0] += timedelta(seconds=waits[-1] + 1)  # wait it out, then fail once more
    assert waits[0] == pytest.approx(30, abs=1)
    assert waits[1] > waits[0] and waits[2] > waits[1]
    # The right password works once the wait is over, from the same address.
    assert services.users.authenticate("noi", "long-Enough-77", "192.0.2.1").name == "noi"


def test_sessions_end_with_their_causes(services: Services) -> None:
    user = services.users.add_user("noi", "long-Enough-77", "agent")
    web = services.users.web_sessions
    a, b = web.open(user["id"], "192.0.2.1"), web.open(user["id"], "192.0.2.2")
    assert web.actor(a) is not None and web.actor(b) is not None
    web.close(a)
    assert web.actor(a) is None and web.actor(b) is not None
    assert services.users.sign_out_everywhere("noi") == 1
    assert web.actor(b) is None
    assert web.actor("made-up") is None
