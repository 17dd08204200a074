"""Open311 GeoReport v2 as the ticketing side sees it: services from the categories, requests
created as draft tickets, and the public view of a ticket (no personal data: PDPA).

The public view carries the category, status, agency, dates and the place to district level,
never the description, the caller's number, names or e-mail, and status notes with long digit
runs masked. Requests made through Open311 keep the reporter's name and e-mail on the ticket
for the call-takers (in the description's last line), as a phone complaint keeps the number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.catalog import Catalog
from config.holidays import BANGKOK
from ticketing.actors import Actor
from ticketing.errors import NotFound
from ticketing.models import Ticket
from ticketing.reference import InvalidReference, normalize_reference
from ticketing.status import TicketStatus
from ticketing.tickets import NewTicket, TicketService
from ticketing.timeutil import as_utc

CLOSED = (TicketStatus.RESOLVED, TicketStatus.CLOSED, TicketStatus.DUPLICATE)
HIDDEN = (TicketStatus.REJECTED,)  # pranks and tests are nobody's business
MAX_RESULTS = 1000
GROUPS = {
    "INFO": "ข้อมูลและข้อเสนอแนะ",
    "FEEDBACK": "ข้อมูลและข้อเสนอแนะ",
    "NUISANCE": "ความเดือดร้อนในพื้นที่",
    "INFRASTRUCTURE": "ความเดือดร้อนในพื้นที่",
    "DISASTER": "ความเดือดร้อนในพื้นที่",
}
NOTICE = "ศูนย์ดำรงธรรมรับเรื่องแล้ว เจ้าหน้าที่จะตรวจสอบและส่งต่อหน่วยงานที่รับผิดชอบ"
_DIGITS = re.compile(r"\d{6,}")
_PREFIXES = ("อำเภอ", "อ.", "เขต", "จังหวัด", "จ.")


@dataclass(frozen=True)
class RequestInput:
    service_code: str
    description: str
    lat: float | None = None
    long: float | None = None
    address_string: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestQuery:
    ids: tuple[str, ...] = ()
    service_code: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    status: str | None = None  # open | closed


def local_iso(moment: datetime | None) -> str | None:
    return as_utc(moment).astimezone(BANGKOK).isoformat() if moment is not None else None


def resolve_place(text: str, catalog: Catalog) -> tuple[str | None, str | None]:
    """Province and district named in a free address (longest names first)."""
    compact = re.sub(r"\s+", "", text)
    for prefix in _PREFIXES:
        compact = compact.replace(prefix, "")
    compact = compact.replace("กทม", "กรุงเทพมหานคร").replace("กรุงเทพฯ", "กรุงเทพมหานคร")
    provinces = [code for code, name in catalog.provinces.items() if name in compact]
    if "กรุงเทพ" in compact and "10" not in provinces:
        provinces.append("10")
    hits: list[tuple[int, str, str]] = []
    for code, (province, name) in catalog.districts.items():
        bare = name.removeprefix("เขต")
        if bare and bare in compact:
            hits.append((len(bare), code, province))
    if provinces:
        hits = [h for h in hits if h[2] in provinces] or []
    hits.sort(reverse=True)
    if hits and (len(hits) == 1 or hits[0][0] > hits[1][0] or provinces):
        _, district, province = hits[0]
        return province, district
    if len(provinces) == 1:
        return provinces[0], None
    return None, None


class Open311Service:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        catalog: Catalog,
        tickets: TicketService,
        after_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._tickets = tickets
        self._after_commit = after_commit

    def services(self) -> list[dict[str, Any]]:
        return [
            {
                "service_code": c.code,
                "service_name": c.name_th,
                "description": c.name_en,
                "metadata": True,
                "type": "realtime",
                "keywords": ", ".join(w for w in re.split(r"[ /(),]+", c.name_en.lower()) if w),
                "group": GROUPS.get(c.code, "ร้องเรียน"),
            }
            for c in self._catalog.categories.values()
        ]

    def definition(self, code: str) -> dict[str, Any]:
        if code not in self._catalog.categories:
            raise NotFound(f"no service {code!r}")
        return {
            "service_code": code,
            "attributes": [
                {
                    "variable": True,
                    "code": "urgent",
                    "datatype": "singlevaluelist",
                    "required": False,
                    "datatype_description": "มีอันตรายต่อชีวิตหรือความปลอดภัยขณะนี้หรือไม่",
                    "order": 1,
                    "description": "เรื่องด่วน (อันตรายขณะนี้)",
                    "values": [{"key": "true", "name": "ใช่"}, {"key": "false", "name": "ไม่ใช่"}],
                }
            ],
        }

    def create(self, data: RequestInput, client_name: str) -> dict[str, Any]:
        province, district = (None, None)
        if data.address_string:
            province, district = resolve_place(data.address_string, self._catalog)
        reporter = " ".join(p for p in (data.first_name, data.last_name) if p)
        contact = ", ".join(p for p in (reporter, data.email) if p)
        description = data.description
        if data.address_string:
            description += f"\nที่อยู่: {data.address_string}"
        if contact:
            description += f"\nผู้แจ้ง (Open311): {contact}"
        new = NewTicket(
            description=description,
            category=data.service_code,
            province_code=province,
            district_code=district,
            caller_phone=data.phone,
            urgent=data.attributes.get("urgent") == "true",
            channel="web",
        )
        actor = Actor.system(f"open311:{client_name}")
        with self._sessions.begin() as session:
            ticket = self._tickets.create_in_session(session, new, actor)
            ticket.latitude, ticket.longitude = data.lat, data.long
            reference = ticket.reference
        self._after_commit()
        return {"service_request_id": reference, "service_notice": NOTICE, "account_id": None}

    def search(self, query: RequestQuery, now: datetime) -> list[dict[str, Any]]:
        statement = select(Ticket).where(Ticket.status.not_in(HIDDEN))
        if query.ids:
            refs = []
            for value in query.ids:
                try:
                    refs.append(normalize_reference(value))
                except InvalidReference:
                    continue
            statement = statement.where(Ticket.reference.in_(refs))
        else:
            end = query.end or now
            start = query.start or end - timedelta(days=90)
            statement = statement.where(Ticket.created_at >= start, Ticket.created_at < end)
        if query.service_code:
            statement = statement.where(Ticket.category == query.service_code)
        if query.status == "closed":
            statement = statement.where(Ticket.status.in_(CLOSED))
        elif query.status == "open":
            statement = statement.where(Ticket.status.not_in(CLOSED))
        statement = statement.order_by(Ticket.id.desc()).limit(MAX_RESULTS)
        with self._sessions() as session:
            return [self.public(t) for t in session.scalars(statement)]

    def get(self, reference: str) -> dict[str, Any]:
        try:
            digits = normalize_reference(reference)
        except InvalidReference as exc:
            raise NotFound(f"no request {reference!r}") from exc
        with self._sessions() as session:
            ticket = session.scalars(
                select(Ticket).where(Ticket.reference == digits, Ticket.status.not_in(HIDDEN))
            ).one_or_none()
            if ticket is None:
                raise NotFound(f"no request {digits}")
            return self.public(ticket)

    def public(self, ticket: Ticket) -> dict[str, Any]:
        category = self._catalog.categories.get(ticket.category or "")
        agency = self._catalog.agencies.get(ticket.agency_code or "")
        place = [
            self._catalog.districts.get(ticket.district_code or "", ("", ""))[1],
            self._catalog.provinces.get(ticket.province_code or "", ""),
        ]
        closed = ticket.status in CLOSED
        notes = ticket.resolution or ("เรื่องซ้ำ" if ticket.status is TicketStatus.DUPLICATE else "")
        return {
            "service_request_id": ticket.reference,
            "status": "closed" if closed else "open",
            "status_notes": _DIGITS.sub(lambda m: "•" * len(m.group()), notes) or None,
            "service_name": category.name_th if category else None,
            "service_code": ticket.category,
            "description": None,  # citizens' words may hold personal data
            "agency_responsible": agency.name_th if agency else None,
            "service_notice": None,
            "requested_datetime": local_iso(ticket.created_at),
            "updated_datetime": local_iso(ticket.updated_at),
            "expected_datetime": local_iso(ticket.resolve_due_at),
            "address": " ".join(p for p in place if p) or None,
            "address_id": ticket.district_code,
            "zipcode": None,
            "lat": round(ticket.latitude, 3) if ticket.latitude is not None else None,
            "long": round(ticket.longitude, 3) if ticket.longitude is not None else None,
            "media_url": None,
        }
