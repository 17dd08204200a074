"""Mail from the outbox: rows written with the change (``ticketing/notify.py``) are sent by
the scheduler through ``HOTLINE_SMTP_URL``; a server that is down only delays them.

- ``smtp://host:25`` (plain; ``smtp://user:pass@host:587`` logs in after STARTTLS when the
  server offers it), ``smtps://user:pass@host:465`` (TLS from the start).
- Without the setting, each mail is written to the log (INFO) and marked handled: the console's
  notification list is then the only channel.
- A failed attempt is retried with a growing delay (30 s, 1 min, 2 min, … up to 1 h); nothing is
  dropped. Delivery is at least once: a crash after the server accepted a message but before the
  row was marked sends it again.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.models import MailOutbox
from ticketing.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


class MailSender:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        smtp_url: str | None,
        mail_from: str,
        *,
        timeout: float = 10.0,
        batch: int = 50,
    ) -> None:
        self._sessions = sessions
        self._url = smtp_url
        self._from = mail_from
        self._timeout = timeout
        self._batch = batch

    def drain_once(self, now: datetime | None = None, fence: object = None) -> int:
        """Send what is due; returns how many were delivered (or logged, without SMTP)."""
        moment = now or utcnow()
        with self._sessions.begin() as session:
            if callable(fence):
                fence(session)
            query = (
                select(MailOutbox)
                .where(MailOutbox.sent_at.is_(None), MailOutbox.next_attempt_at <= moment)
                .order_by(MailOutbox.id)
                .limit(self._batch)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list(session.scalars(query))
            if not rows:
                return 0
            if self._url is None:
                for row in rows:
                    log.info("mail (no HOTLINE_SMTP_URL) to %s: %s", row.recipient, row.subject)
                    row.sent_at = moment
                    row.last_error = "logged: no HOTLINE_SMTP_URL"
                return len(rows)
            return self._send(rows, moment)

    def _send(self, rows: list[MailOutbox], moment: datetime) -> int:
        sent = 0
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            for row in rows:
                self._failed(row, moment, f"connect: {exc}")
            log.warning("mail server unavailable, %d mail(s) wait: %s", len(rows), exc)
            return 0
        try:
            for row in rows:
                try:
                    client.send_message(self._message(row))
                except (OSError, smtplib.SMTPException) as exc:
                    self._failed(row, moment, str(exc))
                    log.warning("mail %d to %s failed: %s", row.id, row.recipient, exc)
                    if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
                        break
                else:
                    row.sent_at = moment
                    row.attempts += 1
                    sent += 1
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        return sent

    def _connect(self) -> smtplib.SMTP:
        assert self._url is not None
        parts = urlsplit(self._url)
        host = parts.hostname or "localhost"
        client: smtplib.SMTP
        if parts.scheme == "smtps":
            context = ssl.create_default_context()
            client = smtplib.SMTP_SSL(
                host, parts.port or 465, timeout=self._timeout, context=context
            )
        else:
            client = smtplib.SMTP(host, parts.port or 25, timeout=self._timeout)
            client.ehlo()
            if client.has_extn("starttls") and parts.username:
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        return client

    def _message(self, row: MailOutbox) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._from
        message["To"] = row.recipient
        message["Subject"] = row.subject
        message["Message-ID"] = f"<hotline1567-mail-{row.id}@{self._from.split('@')[-1]}>"
        message.set_content(row.body)
        return message

    @staticmethod
    def _failed(row: MailOutbox, moment: datetime, error: str) -> None:
        row.attempts += 1
        row.next_attempt_at = moment + backoff(row.attempts)
        row.last_error = error[:2000]
