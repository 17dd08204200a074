"""One SLA pass: every ticket whose clocks may have moved is evaluated; each level a clock
reaches is marked once (``sla_marks``, unique per ticket, clock and level) with its audit row,
its event and its notifications, all in the same transaction.

Which tickets: open ones that changed since the pass last looked (``sla_version != version``)
or whose next threshold has come (``sla_next_at <= now``), and finished ones not yet settled.
The rest cost nothing. A pass works in batches, each its own transaction: a pass killed
half-way leaves whole batches done and the rest untouched, and the next pass finishes them —
no mark, notification or mail twice (the unique mark is inserted with ON CONFLICT DO NOTHING, and
only a mark that was inserted notifies).

The scheduler's own columns are written with Core updates that leave the ticket's ``version``
alone, so a call-taker's open form never turns stale because a clock moved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from config.catalog import Catalog
from config.holidays import BusinessCalendar
from ticketing.actors import Actor
from ticketing.events import EVENT_TYPES
from ticketing.models import AuditEvent, MailOutbox, Notification, OutboxEvent, SlaMark, Ticket
from ticketing.notify import Audience, Recipients
from ticketing.sla import ClockPlan, iso, plan_clocks
from ticketing.status import OPEN_STATUSES
from ticketing.timeutil import utcnow

log = logging.getLogger(__name__)

ACTOR = Actor.system("scheduler")
CLOCK_TH = {"confirm": "ยืนยันเรื่อง", "progress": "แจ้งความคืบหน้า", "resolve": "แจ้งผล"}
LEVEL_TH = {1: "ใกล้ครบกำหนด", 2: "เลยกำหนด", 3: "เลยกำหนดนาน ส่งถึงส่วนกลาง"}
UNSETTLED = ("ok", "warning", "breached")
CLOCK_MARGIN = timedelta(minutes=2)
assert {"ticket.sla_warning", "ticket.sla_breached"} <= set(EVENT_TYPES)
COLUMNS = (
    Ticket.id,
    Ticket.reference,
    Ticket.status,
    Ticket.version,
    Ticket.category,
    Ticket.province_code,
    Ticket.agency_code,
    Ticket.urgent,
    Ticket.created_at,
    Ticket.updated_at,
    Ticket.confirmed_at,
    Ticket.first_update_at,
    Ticket.resolved_at,
    Ticket.escalation_level,
    Ticket.sla_levels,
)


@dataclass
class PassResult:
    examined: int = 0
    marks: list[tuple[str, str, int]] = field(default_factory=list)  # (reference, clock, level)
    batches: int = 0


Fence = Callable[[Session], None]  # raises when this scheduler no longer holds the lock


class SlaPass:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        catalog: Catalog,
        calendar: BusinessCalendar,
        *,
        after_commit: Callable[[], None] = lambda: None,
        batch: int = 2000,
        full_every: int = 60,
    ) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._calendar = calendar
        self._after_commit = after_commit
        self._batch = batch
        self._full_every = full_every
        self._since: datetime | None = None  # real start time of this instance's last pass
        self._passes = 0

    def run(
        self,
        now: datetime | None = None,
        *,
        fence: Fence | None = None,
        max_batches: int | None = None,
        changed_since: datetime | None = None,
    ) -> PassResult:
        """One pass as if at ``now``. ``max_batches`` stops early (tests of a killed pass);
        ``changed_since`` overrides the instance's own memory of its last pass (benchmarks)."""
        moment = (now or utcnow()).astimezone(UTC)  # SQLite keeps wall times: UTC only
        started = utcnow()
        # Changed tickets are found by updated_at (every change sets it) since the last pass,
        # with a margin for clocks of other hosts; every full_every-th pass looks at all.
        full = self._since is None or self._passes % self._full_every == 0
        if changed_since is None and not full and self._since is not None:
            changed_since = self._since - CLOCK_MARGIN
        result = PassResult()
        last_id = 0
        while max_batches is None or result.batches < max_batches:
            with self._sessions.begin() as session:
                if fence is not None:
                    fence(session)
                query = self._candidates(moment, last_id, changed_since)
                rows = list(session.execute(query).all())
                if not rows:
                    break
                self._evaluate(session, rows, moment, result)
                last_id = rows[-1].id
            result.batches += 1
            self._after_commit()
            if len(rows) < self._batch:
                break
        finished = max_batches is None or result.batches < max_batches
        if finished:
            self._since, self._passes = started, self._passes + 1
        if result.marks:
            log.info("SLA pass: %d tickets examined, %d marks", result.examined, len(result.marks))
        return result

    def _candidates(self, now: datetime, after_id: int, changed_since: datetime | None) -> Any:
        due = Ticket.sla_next_at <= now  # only open tickets have a next threshold
        if changed_since is None:  # a full look: anything changed since it was last evaluated
            unsettled = and_(Ticket.status.not_in(OPEN_STATUSES), Ticket.sla_state.in_(UNSETTLED))
            changed = or_(Ticket.sla_version.is_(None), Ticket.sla_version != Ticket.version)
            condition = or_(changed, due, unsettled)
        else:  # every branch has its own index: the pass reads only what may have moved
            condition = or_(Ticket.sla_version.is_(None), Ticket.updated_at >= changed_since, due)
        return (
            select(*COLUMNS)
            .where(Ticket.id > after_id, condition)
            .order_by(Ticket.id)
            .limit(self._batch)
        )

    def _evaluate(self, session: Session, rows: list[Any], now: datetime, out: PassResult) -> None:
        updates: list[dict[str, Any]] = []
        pending: list[tuple[Any, ClockPlan, int]] = []  # marks to insert
        announce: set[tuple[int, str, int]] = set()  # the ones to audit and notify
        for row in rows:
            out.examined += 1
            status = row.status.value
            category = self._catalog.categories.get(row.category or "")
            plans = plan_clocks(row, status, category, self._calendar)
            levels: dict[str, int] = {k: int(v) for k, v in (row.sla_levels or {}).items()}
            is_open = row.status in OPEN_STATUSES
            escalation = row.escalation_level or 0
            for plan in plans if is_open else ():
                reached = plan.reached(now)
                if reached > levels.get(plan.clock, 0):
                    # A clock that jumped several levels (the scheduler was down) is announced
                    # once, at the level it reached; the levels it skipped are marked silently.
                    for level in range(levels.get(plan.clock, 0) + 1, reached + 1):
                        pending.append((row, plan, level))
                    announce.add((row.id, plan.clock, reached))
                    levels[plan.clock] = reached
                    escalation = max(escalation, reached)
            updates.append(
                {
                    "b_id": row.id,
                    "b_version": row.version,
                    "b_levels": levels,
                    "b_escalation": escalation,
                    "b_state": self._state(plans, levels, now) if is_open else "done",
                    "b_next": self._next(plans, levels) if is_open else None,
                    **{f"b_{p.clock}_due": p.due for p in plans},
                }
            )
        if pending:
            inserted = self._insert_marks(session, pending, now)
            fresh = [(r, p, lvl) for r, p, lvl in pending if (r.id, p.clock, lvl) in inserted]
            chosen = [m for m in fresh if (m[0].id, m[1].clock, m[2]) in announce]
            self._announce(session, chosen, now)
            out.marks += [(r.reference, p.clock, lvl) for r, p, lvl in chosen]
        self._write(session, updates)

    @staticmethod
    def _insert_marks(
        session: Session, pending: list[tuple[Any, ClockPlan, int]], now: datetime
    ) -> set[tuple[int, str, int]]:
        """Insert the marks once (ON CONFLICT DO NOTHING); returns the ones this pass made."""
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = (
            insert(SlaMark)
            .on_conflict_do_nothing(index_elements=["ticket_id", "clock", "level"])
            .returning(SlaMark.ticket_id, SlaMark.clock, SlaMark.level)
        )
        values = [
            {"ticket_id": r.id, "clock": p.clock, "level": lvl, "at": now} for r, p, lvl in pending
        ]
        # executemany with RETURNING: SQLAlchemy batches it ("insertmanyvalues"), one compile.
        result = session.connection().execute(statement, values)
        made = {(t, c, lvl) for t, c, lvl in result.all()}
        return made

    def _announce(
        self, session: Session, marks: list[tuple[Any, ClockPlan, int]], now: datetime
    ) -> None:
        """Audit rows, events, notifications and mail of new marks, written in bulk."""
        if not marks:
            return
        recipients = Recipients.load(session)
        sent_now = utcnow()
        audits: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        notes: list[dict[str, Any]] = []
        mails: list[dict[str, Any]] = []
        for row, plan, level in marks:
            action = "sla_warning" if level == 1 else "sla_breached"
            detail = {"clock": plan.clock, "level": level, "due": iso(plan.due)}
            audits.append(
                {
                    "ticket_id": row.id,
                    "actor": ACTOR.name,
                    "action": action,
                    "before": {},
                    "after": detail,
                    "at": now,
                }
            )
            payload = {
                "reference": row.reference,
                "ticket_id": row.id,
                "status": row.status.value,
                "category": row.category,
                "province_code": row.province_code,
                "agency_code": row.agency_code,
                "urgent": row.urgent,
                **detail,
            }
            events.append({"event_type": f"ticket.{action}", "payload": payload, "created_at": now})
            audience, agencies = self._audience(row, level)
            title = f"เรื่อง {row.reference}: {LEVEL_TH[level]} ({CLOCK_TH[plan.clock]})"
            body = f"กำหนด{CLOCK_TH[plan.clock]}: {iso(plan.due)} · ระดับการติดตาม {level}"
            for user_id in recipients.users_for(audience):
                notes.append(
                    {
                        "user_id": user_id,
                        "ticket_id": row.id,
                        "kind": action,
                        "title": title,
                        "body": body,
                        "created_at": now,
                    }
                )
            for code in agencies:
                agency = self._catalog.agencies.get(code)
                if agency is not None and agency.email:
                    mails.append(
                        {
                            "recipient": agency.email,
                            "subject": title,
                            "body": body,
                            "created_at": sent_now,
                            "attempts": 0,
                            "next_attempt_at": sent_now,  # mail leaves now, whatever --at said
                        }
                    )
        connection = session.connection()
        connection.execute(insert(AuditEvent), audits)
        connection.execute(insert(OutboxEvent), events)
        if notes:
            connection.execute(insert(Notification), notes)
        if mails:
            connection.execute(insert(MailOutbox), mails)

    def _audience(self, row: Any, level: int) -> tuple[Audience, list[str]]:
        """1-2: the province's supervisors and the agency; 3: central too (and mail to them)."""
        province = row.province_code
        audience = Audience(
            agency=row.agency_code,
            province_supervisors=province,
            central=level >= 3 or province is None,
        )
        mail = [row.agency_code] if row.agency_code else []
        if level >= 2 and province:
            mail.append(f"DAMRONG-{province}")
        if level >= 3 or (level >= 2 and not province):
            mail.append(self._catalog.fallback_agency)
        return audience, mail

    @staticmethod
    def _state(plans: list[ClockPlan], levels: dict[str, int], now: datetime) -> str:
        states = {p.state(now, levels.get(p.clock, 0)) for p in plans if p.done_at is None}
        return "breached" if "breached" in states else "warning" if "warning" in states else "ok"

    @staticmethod
    def _next(plans: list[ClockPlan], levels: dict[str, int]) -> datetime | None:
        times = [p.next_threshold(levels.get(p.clock, 0)) for p in plans]
        pending = [t for t in times if t is not None]
        return min(pending) if pending else None

    @staticmethod
    def _write(session: Session, updates: list[dict[str, Any]]) -> None:
        """Core executemany, grouped by which due columns a row has (no version bump)."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for values in updates:
            key = tuple(sorted(k for k in values if k.endswith("_due")))
            groups.setdefault(key, []).append(values)
        for key, batch in groups.items():
            statement = (
                update(Ticket)
                .where(Ticket.id == bindparam("b_id"))
                .values(
                    sla_version=bindparam("b_version"),
                    sla_levels=bindparam("b_levels"),
                    escalation_level=bindparam("b_escalation"),
                    sla_state=bindparam("b_state"),
                    sla_next_at=bindparam("b_next"),
                    **{k[2:].replace("_due", "_due_at"): bindparam(k) for k in key},
                )
                .execution_options(synchronize_session=False)
            )
            session.connection().execute(statement, batch)
