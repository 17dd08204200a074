"""Registration to the registrar (Kamailio) as a non-blocking state machine with digest auth.

The REGISTER requests and their digest answers come from a ``RegisterBuilder`` (the adapter's,
on pyVoIP's SIPClient); everything else is here: send, wait at most ``ANSWER_TIMEOUT`` for an
answer, answer one 401 challenge, refresh at half the expiry, and after any failure retry with
backoff forever — a registrar that is down never stops the node from answering calls.
"""

from __future__ import annotations

import logging
import random
from enum import Enum
from typing import Protocol

from ivr.sip import message as sipmsg
from ivr.sip.message import SipResponse
from ivr.sip.transaction import Send, retry_delay

log = logging.getLogger(__name__)

ANSWER_TIMEOUT = 4.0  # seconds without any answer from the registrar: a failed attempt
MAX_BACKOFF = 60.0


class RegisterBuilder(Protocol):
    def first_request(self, deregister: bool = False) -> bytes: ...

    def answer_challenge(self, challenge: bytes, deregister: bool = False) -> bytes: ...


class RegistrationState(Enum):
    UNREGISTERED = "unregistered"  # first attempt due
    REGISTERING = "registering"  # REGISTER sent
    AUTHENTICATING = "authenticating"  # answer to the 401 challenge sent
    REGISTERED = "registered"  # refresh due at half the expiry
    BACKOFF = "backoff"  # the last attempt failed; the next is due after a delay


class Registration:
    def __init__(
        self,
        builder: RegisterBuilder,
        registrar: tuple[str, int],
        user: str,
        expires: int,
        rng: random.Random | None = None,
    ) -> None:
        self.builder = builder
        self.registrar = registrar
        self.user = user
        self.expires = expires
        self.state = RegistrationState.UNREGISTERED
        self.registered = False  # registered at least once (the node's readiness signal)
        self.failures = 0
        self._rng = rng or random.Random()
        self._due = 0.0
        self._sent_at = 0.0
        self._call_id: str | None = None

    def _set_state(self, state: RegistrationState, why: str) -> None:
        was = self.state.value
        log.debug("registration as %s: %s -> %s (%s)", self.user, was, state.value, why)
        self.state = state

    def expects(self, call_id: str) -> bool:
        return call_id == self._call_id

    @property
    def waiting(self) -> bool:
        return self.state in (RegistrationState.REGISTERING, RegistrationState.AUTHENTICATING)

    def tick(self, now: float) -> list[Send]:
        if self.waiting and now - self._sent_at > ANSWER_TIMEOUT:
            self._failed(now, "no answer from registrar")
        if not self.waiting and now >= self._due:
            return [self._send(self.builder.first_request(), now, RegistrationState.REGISTERING)]
        return []

    def on_response(self, response: SipResponse, now: float) -> list[Send]:
        status = response.status
        if status < 200:
            self._sent_at = now  # provisional: the registrar is alive, keep waiting
        elif status == 401 and self.state is RegistrationState.REGISTERING:
            try:
                request = self.builder.answer_challenge(bytes(response))
            except Exception as exc:  # a challenge pyVoIP cannot parse: retry later, never stop
                self._failed(now, f"unusable challenge: {exc}")
                return []
            return [self._send(request, now, RegistrationState.AUTHENTICATING)]
        elif 200 <= status < 300:
            if not self.registered or self.failures:
                log.info("registered as %s at %s:%d", self.user, *self.registrar)
            self.registered = True
            self.failures = 0
            self._call_id = None
            self._due = now + self.expires / 2
            self._set_state(RegistrationState.REGISTERED, f"{status}")
        else:
            self._failed(now, f"registrar answered {status}")
        return []

    def deregister(self) -> list[Send]:
        if not self.registered:
            return []
        return [Send(self.builder.first_request(deregister=True), self.registrar)]

    def _send(self, request: bytes, now: float, state: RegistrationState) -> Send:
        self._call_id = sipmsg.parse(request).call_id
        self._sent_at = now
        self._set_state(state, "REGISTER sent")
        return Send(request, self.registrar)

    def _failed(self, now: float, why: str) -> None:
        self.failures += 1
        backoff = retry_delay(min(self.failures, 6), MAX_BACKOFF) * self._rng.uniform(0.8, 1.2)
        log.warning(
            "registration as %s failed (%s); retry %d in %.1f s (calls carry on)",
            self.user,
            why,
            self.failures,
            backoff,
        )
        self._call_id = None
        self._due = now + backoff
        self._set_state(RegistrationState.BACKOFF, why)
