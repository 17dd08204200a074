"""Mail through the outbox to a real SMTP server (aiosmtpd, started here): routed tickets and
SLA warnings reach the agency's address; a server that is down delays mail and loses none."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from config.catalog import DEFAULTS_DIR
from config.holidays import load_calendar
from config.settings import Settings, SettingsError
from ticketing.actors import Actor
from ticketing.container import Services, build_services, sync_agencies
from ticketing.escalation import SlaPass
from ticketing.mail import MailSender
from ticketing.models import MailOutbox, Ticket
from ticketing.tickets import NewTicket
from ticketing.timeutil import as_utc, utcnow

AGENT = Actor(name="somchai", role="agent")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content or b""))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"hotline", b"s3cret")
    return AuthResult(success=ok)


class SmtpServer:
    def __init__(self, port: int, *, auth: bool = False) -> None:
        self.inbox = Inbox()
        self.port = port
        self.auth = auth
        self.controller: Controller | None = None

    def start(self) -> None:
        extra: dict[str, Any] = {}
        if self.auth:
            extra = {"authenticator": _authenticate, "auth_require_tls": False}
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **extra)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def subjects(self) -> list[str]:
        return [str(make_header(decode_header(m["Subject"]))) for m in self.inbox.messages]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(_free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_services(tmp_path: Path, settings: Settings) -> Iterator[Services]:
    conf = tmp_path / "conf"
    shutil.copytree(DEFAULTS_DIR, conf)
    agencies = conf / "agencies.toml"
    agencies.write_text(
        agencies.read_text(encoding="utf-8").replace(
            'name_en = "Provincial police"\n',
            'name_en = "Provincial police"\nemail = "saraban-{code}@police.example"\n',
        ),
        encoding="utf-8",
    )
    configured = Settings(**{**settings.__dict__, "config_dir": conf})
    built = build_services(configured, start_relay=False)
    sync_agencies(built.sessions, built.catalog)
    yield built
    built.close()


def _route(services: Services) -> str:
    ticket = services.tickets.create(
        NewTicket(description="ขายยาบ้า", category="DRUGS", province_code="50"), AGENT
    )
    services.tickets.transition(ticket["reference"], "confirmed", AGENT)
    services.tickets.route(ticket["reference"], None, AGENT)
    return str(ticket["reference"])


def test_a_routed_ticket_mails_the_agency(mail_services: Services, smtp: SmtpServer) -> None:
    ref = _route(mail_services)
    sender = MailSender(mail_services.sessions, f"smtp://127.0.0.1:{smtp.port}", "h@1567.example")
    assert sender.drain_once() == 1
    assert sender.drain_once() == 0  # sent once
    [message] = smtp.inbox.messages
    assert message["To"] == "saraban-police-50@police.example"
    assert ref in smtp.subjects()[0] and "เรื่องใหม่" in smtp.subjects()[0]
    assert "0812345678" not in message.as_string()


def test_a_server_down_delays_mail_and_loses_none(
    mail_services: Services, smtp: SmtpServer
) -> None:
    sender = MailSender(
        mail_services.sessions, f"smtp://127.0.0.1:{smtp.port}", "h@1567.example", timeout=2
    )
    smtp.stop()
    refs = [_route(mail_services) for _ in range(3)]
    assert sender.drain_once() == 0
    with mail_services.sessions() as session:
        rows = list(session.scalars(select(MailOutbox)))
        assert [r.attempts for r in rows] == [1, 1, 1]
        assert all(r.sent_at is None and r.last_error for r in rows)
    assert sender.drain_once() == 0  # not due yet: backed off
    smtp.start()
    assert sender.drain_once(utcnow() + timedelta(seconds=31)) == 3
    assert sender.drain_once(utcnow() + timedelta(hours=2)) == 0
    subjects = smtp.subjects()
    assert len(subjects) == 3 and all(any(r in s for s in subjects) for r in refs)


def test_login_and_no_server_configured(mail_services: Services, tmp_path: Path) -> None:
    server = SmtpServer(_free_port(), auth=True)
    server.start()
    try:
        _route(mail_services)
        wrong = MailSender(
            mail_services.sessions, f"smtp://hotline:nope@127.0.0.1:{server.port}", "h@x.example"
        )
        assert wrong.drain_once() == 0
        right = MailSender(
            mail_services.sessions, f"smtp://hotline:s3cret@127.0.0.1:{server.port}", "h@x.example"
        )
        assert right.drain_once(utcnow() + timedelta(minutes=1)) == 1
        assert len(server.inbox.messages) == 1
    finally:
        server.stop()
    _route(mail_services)
    logged = MailSender(mail_services.sessions, None, "h@x.example")
    assert logged.drain_once() == 1
    with mail_services.sessions() as session:
        last = session.scalars(select(MailOutbox).order_by(MailOutbox.id.desc())).first()
        assert last is not None and last.last_error == "logged: no HOTLINE_SMTP_URL"


def test_an_sla_warning_mails_the_agency(mail_services: Services, smtp: SmtpServer) -> None:
    ref = _route(mail_services)
    sender = MailSender(mail_services.sessions, f"smtp://127.0.0.1:{smtp.port}", "h@1567.example")
    sender.drain_once()  # the routing mail
    with mail_services.sessions() as session:
        created = session.scalars(select(Ticket).where(Ticket.reference == ref)).one().created_at
    SlaPass(mail_services.sessions, mail_services.catalog, load_calendar()).run(
        as_utc(created) + timedelta(days=25)  # 80 % of the 30-day resolve clock
    )
    # progress: level 3 at once (7 days, long past); resolve: level 1 -- one mail each
    assert sender.drain_once() == 2
    subjects = smtp.subjects()[1:]
    assert f"เรื่อง {ref}: ใกล้ครบกำหนด (แจ้งผล)" in subjects
    assert f"เรื่อง {ref}: เลยกำหนดนาน ส่งถึงส่วนกลาง (แจ้งความคืบหน้า)" in subjects


def test_smtp_url_setting() -> None:
    settings = Settings.from_env({"HOTLINE_SMTP_URL": "smtps://u:p@mail.example:465"}, None)
    assert settings.smtp_url == "smtps://u:p@mail.example:465"
    with pytest.raises(SettingsError, match="HOTLINE_SMTP_URL"):
        Settings.from_env({"HOTLINE_SMTP_URL": "http://mail.example"}, None)


def test_scheduler_and_open311_settings() -> None:
    settings = Settings.from_env(
        {"HOTLINE_SCHEDULER_INTERVAL": "5", "HOTLINE_OPEN311_RATE": "10"}, None
    )
    assert (settings.scheduler_interval, settings.open311_rate_per_minute) == (5.0, 10)
    for name in ("HOTLINE_SCHEDULER_INTERVAL", "HOTLINE_OPEN311_RATE"):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: "soon"}, None)
