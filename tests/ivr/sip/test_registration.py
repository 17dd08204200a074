"""Registration without a socket: REGISTER, a 401 answered with digest, refresh, retries."""

from __future__ import annotations

import hashlib
import random
import re

from config.settings import Settings
from ivr.sip import message as m
from ivr.sip.adapter import PyVoipRegisterBuilder
from ivr.sip.registration import ANSWER_TIMEOUT, Registration, RegistrationState
from ivr.sip.transaction import Send

REGISTRAR = ("127.0.0.1", 5060)
CHALLENGE = 'Digest realm="hotline1567", nonce="n0nce{}", algorithm=MD5'


def registration(expires: int = 120) -> Registration:
    settings = Settings(sip_registrar=REGISTRAR, sip_user="ivr1", sip_password="s3cret")
    builder = PyVoipRegisterBuilder(settings, REGISTRAR, "127.0.0.1", expires)
    return Registration(builder, REGISTRAR, "ivr1", expires, rng=random.Random(1))


def only(sends: list[Send]) -> m.SipRequest:
    (send,) = sends
    assert send.destination == REGISTRAR
    request = m.parse(send.data)
    assert isinstance(request, m.SipRequest) and request.method == "REGISTER"
    return request


def answer(request: m.SipRequest, status: int, reason: str, nonce: int = 1) -> m.SipResponse:
    extra = [("WWW-Authenticate", CHALLENGE.format(nonce))] if status == 401 else []
    return m.build_response(request, status, reason, to_tag="reg", extra=extra)


def digest_ok(request: m.SipRequest, nonce: str) -> bool:
    """The Authorization header answers the challenge for ivr1 / s3cret (RFC 2617, no qop)."""
    fields = dict(re.findall(r'(\w+)="([^"]*)"', request.get("authorization") or ""))
    ha1 = hashlib.md5(b"ivr1:hotline1567:s3cret").hexdigest()
    ha2 = hashlib.md5(f"REGISTER:{fields['uri']}".encode()).hexdigest()
    expected = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
    return (
        fields["username"] == "ivr1" and fields["nonce"] == nonce and fields["response"] == expected
    )


def register_with_challenge(reg: Registration, now: float, nonce: int) -> None:
    first = only(reg.tick(now))
    assert first.get("authorization") is None
    assert reg.state is RegistrationState.REGISTERING
    authed = only(reg.on_response(answer(first, 401, "Unauthorized", nonce), now + 0.01))
    assert reg.state is RegistrationState.AUTHENTICATING
    assert digest_ok(authed, f"n0nce{nonce}")
    assert authed.call_id == first.call_id and reg.expects(authed.call_id)
    assert reg.on_response(answer(authed, 200, "OK"), now + 0.02) == []
    assert reg.state is RegistrationState.REGISTERED


def test_register_answer_the_401_then_re_register_at_half_the_expiry_with_a_new_401():
    reg = registration(expires=120)
    register_with_challenge(reg, 0.0, nonce=1)
    assert reg.registered
    assert reg.tick(59.0) == []  # refresh due at 60 s
    register_with_challenge(reg, 60.1, nonce=2)  # the re-REGISTER is challenged again
    assert reg.failures == 0


def test_no_answer_is_a_failure_retried_with_backoff_and_calls_are_not_blocked():
    reg = registration()
    only(reg.tick(0.0))
    assert reg.tick(ANSWER_TIMEOUT - 0.1) == []  # still waiting
    assert reg.tick(ANSWER_TIMEOUT + 0.1) == []  # gave up: backoff, nothing sent at once
    assert reg.state is RegistrationState.BACKOFF and reg.failures == 1
    retry_at = next(t / 10 for t in range(41, 200) if reg.tick(t / 10))
    assert 1.6 <= retry_at - (ANSWER_TIMEOUT + 0.1) <= 2.5  # 2 s ± 20 % jitter
    assert not reg.registered


def test_a_second_401_or_a_403_is_a_failure_not_a_loop():
    reg = registration()
    first = only(reg.tick(0.0))
    authed = only(reg.on_response(answer(first, 401, "Unauthorized"), 0.1))
    assert reg.on_response(answer(authed, 401, "Unauthorized"), 0.2) == []  # wrong password
    assert reg.state is RegistrationState.BACKOFF and reg.failures == 1
    again = only(reg.tick(10.0))
    assert reg.on_response(answer(again, 403, "Forbidden"), 10.1) == []
    assert reg.failures == 2


def test_provisional_answers_keep_the_attempt_alive_and_deregister_only_when_registered():
    reg = registration()
    assert reg.deregister() == []
    first = only(reg.tick(0.0))
    reg.on_response(answer(first, 100, "Trying"), 3.5)
    assert reg.tick(ANSWER_TIMEOUT + 1) == [] and reg.state is RegistrationState.REGISTERING
    reg.on_response(answer(first, 200, "OK"), 5.0)
    bye = only(reg.deregister())
    assert bye.get("expires") == "0"
