from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from ticketing.models import AuditEvent, OutboxEvent, Ticket
from ticketing.reference import is_valid_reference
from ticketing.tickets import NewTicket
from ticketing.timeutil import as_utc

AGENT = Actor(name="somchai", role="agent", user_id=None)
CM_AGENT = Actor(name="cm", role="agent", user_id=None, provinces=("50",))


def _new(**kwargs: object) -> NewTicket:
    values: dict[str, object] = {
        "description": "ถนนเป็นหลุม",
        "category": "INFRASTRUCTURE",
        "province_code": "50",
        "district_code": "5015",
    }
    values.update(kwargs)
    return NewTicket(**values)  # type: ignore[arg-type]


def _audit_count(services: Services) -> int:
    with services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_create_gives_a_draft_with_reference_due_times_and_audit(services: Services) -> None:
    ticket = services.tickets.create(_new(caller_phone="+66 81-234-5678"), AGENT)
    assert ticket["status"] == "draft"
    assert is_valid_reference(ticket["reference"])
    assert ticket["caller_phone"] == "0812345678"
    created = as_utc_iso(ticket["created_at"])
    assert as_utc_iso(ticket["resolve_due_at"]) - created == timedelta(days=30)
    assert as_utc_iso(ticket["progress_due_at"]) - created == timedelta(days=7)
    audit = services.tickets.audit(ticket["reference"])
    assert [a["action"] for a in audit] == ["created"]
    assert audit[0]["actor"] == "somchai"


def as_utc_iso(value: str) -> object:
    from datetime import datetime

    return as_utc(datetime.fromisoformat(value))


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"category": "NOPE"}, "category", "unknown category 'NOPE'"),
        (
            {"province_code": "99", "district_code": None},
            "province_code",
            "unknown province code '99'",
        ),
        ({"district_code": "1001"}, "district_code", "district 1001 is not in province 50"),
        ({"district_code": "9999"}, "district_code", "unknown district code '9999'"),
        ({"province_code": None}, "province_code", "a district needs its province"),
        (
            {"citizen_id": "1234567890123"},
            "citizen_id",
            "citizen_id must be 13 digits with a valid check digit",
        ),
        ({"caller_phone": "call me"}, "caller_phone", "not a phone number: 'call me'"),
        ({"channel": "pigeon"}, "channel", "channel must be one of"),
    ],
)
def test_invalid_fields_are_refused_and_nothing_is_stored(
    services: Services, fields: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as error:
        services.tickets.create(_new(**fields), AGENT)
    assert error.value.field == field
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0


def test_valid_citizen_id_is_accepted(services: Services) -> None:
    ticket = services.tickets.create(_new(citizen_id="1-1037-02071-81-1"), AGENT)
    assert ticket["citizen_id"] == "1103702071811"


def test_life_cycle_draft_to_closed_and_reopen(services: Services) -> None:
    ref = services.tickets.create(_new(), AGENT)["reference"]
    assert services.tickets.transition(ref, "confirmed", AGENT)["status"] == "confirmed"
    routed = services.tickets.route(ref, None, AGENT, note="ตามกฎ")
    assert routed["status"] == "routed"
    assert routed["agency_code"] == "LOCAL_ADMIN-50"
    assert services.tickets.transition(ref, "in_progress", AGENT)["status"] == "in_progress"
    resolved = services.tickets.transition(ref, "resolved", AGENT, resolution="ซ่อมแล้ว")
    assert resolved["resolution"] == "ซ่อมแล้ว"
    assert resolved["resolved_at"] is not None
    # Closed only after the citizen knows (issue 12): here an officer phoned them.
    services.tickets.add_citizen_update(ref, "แจ้งผลทางโทรศัพท์แล้ว", AGENT, channel="phone")
    assert services.tickets.transition(ref, "closed", AGENT)["status"] == "closed"
    reopened = services.tickets.transition(ref, "reopened", AGENT, reason="ยังไม่ซ่อม")
    assert reopened["status"] == "reopened"
    assert reopened["resolved_at"] is None
    actions = [a["action"] for a in services.tickets.audit(ref)]
    assert actions == [
        "created",
        "status:confirmed",
        "routed",
        "status:in_progress",
        "status:resolved",
        "citizen_update",
        "status:closed",
        "status:reopened",
    ]
    detail = services.tickets.detail(ref)
    assert [a["agency_code"] for a in detail["assignments"]] == ["LOCAL_ADMIN-50"]


def test_illegal_transition_is_a_conflict_and_changes_nothing(services: Services) -> None:
    ref = services.tickets.create(_new(), AGENT)["reference"]
    before = _audit_count(services)
    with pytest.raises(Conflict, match="cannot go from draft to resolved"):
        services.tickets.transition(ref, "resolved", AGENT)
    assert services.tickets.get(ref)["status"] == "draft"
    assert _audit_count(services) == before


def test_unknown_status_is_invalid_input(services: Services) -> None:
    ref = services.tickets.create(_new(), AGENT)["reference"]
    with pytest.raises(InvalidInput, match="unknown status 'done'"):
        services.tickets.transition(ref, "done", AGENT)


def test_reject_needs_a_reason(services: Services) -> None:
    ref = services.tickets.create(_new(), AGENT)["reference"]
    with pytest.raises(InvalidInput, match="reason is required"):
        services.tickets.transition(ref, "rejected", AGENT)
    rejected = services.tickets.transition(ref, "rejected", AGENT, reason="โทรก่อกวน")
    assert rejected["reject_reason"] == "โทรก่อกวน"
    with pytest.raises(Conflict):
        services.tickets.transition(ref, "confirmed", AGENT)


def test_duplicate_links_to_the_original(services: Services) -> None:
    original = services.tickets.create(_new(), AGENT)["reference"]
    copy = services.tickets.create(_new(), AGENT)["reference"]
    with pytest.raises(InvalidInput, match="name the original"):
        services.tickets.transition(copy, "duplicate", AGENT)
    with pytest.raises(InvalidInput, match="cannot duplicate itself"):
        services.tickets.transition(copy, "duplicate", AGENT, duplicate_of=copy)
    marked = services.tickets.transition(copy, "duplicate", AGENT, duplicate_of=original)
    assert marked["status"] == "duplicate"
    assert services.tickets.detail(copy)["duplicate_of"] == original


def test_confirm_needs_a_category(services: Services) -> None:
    ref = services.tickets.create(NewTicket(description="?"), AGENT)["reference"]
    with pytest.raises(InvalidInput, match="set a category"):
        services.tickets.transition(ref, "confirmed", AGENT)


def test_route_to_unknown_agency_is_refused(services: Services) -> None:
    ref = services.tickets.create(_new(), AGENT)["reference"]
    services.tickets.transition(ref, "confirmed", AGENT)
    with pytest.raises(InvalidInput, match="unknown agency 'XYZ'"):
        services.tickets.route(ref, "XYZ", AGENT)


def test_route_a_draft_is_a_conflict(services: Services) -> None:
    ref = services.tickets.create(_new(), AGENT)["reference"]
    with pytest.raises(Conflict, match="cannot go from draft to routed"):
        services.tickets.route(ref, None, AGENT)


def test_stale_version_is_refused(services: Services) -> None:
    ticket = services.tickets.create(_new(), AGENT)
    ref, version = ticket["reference"], ticket["version"]
    services.tickets.update_fields(ref, {"urgent": True}, AGENT, expected_version=version)
    with pytest.raises(StaleVersion, match="reload it"):
        services.tickets.update_fields(ref, {"description": "x"}, AGENT, expected_version=version)
    assert services.tickets.get(ref)["description"] == "ถนนเป็นหลุม"


def test_edit_records_before_and_after(services: Services) -> None:
    ref = services.tickets.create(_new(), AGENT)["reference"]
    services.tickets.update_fields(ref, {"category": "NUISANCE", "urgent": True}, AGENT)
    edit = services.tickets.audit(ref)[-1]
    assert edit["action"] == "edited"
    assert edit["before"] == {"category": "INFRASTRUCTURE", "urgent": False}
    assert edit["after"] == {"category": "NUISANCE", "urgent": True}


def test_edit_of_unknown_field_is_refused(services: Services) -> None:
    ref = services.tickets.create(_new(), AGENT)["reference"]
    with pytest.raises(InvalidInput, match="fields that cannot be edited: status"):
        services.tickets.update_fields(ref, {"status": "closed"}, AGENT)


def test_unknown_reference_is_not_found(services: Services) -> None:
    with pytest.raises(NotFound):
        services.tickets.get("690000000")
    with pytest.raises(NotFound):
        services.tickets.get("abc")


def test_agent_limited_to_provinces(services: Services) -> None:
    bangkok = services.tickets.create(_new(province_code="10", district_code="1001"), AGENT)[
        "reference"
    ]
    with pytest.raises(PermissionDenied):
        services.tickets.get(bangkok, CM_AGENT)
    from ticketing.filters import TicketFilter

    services.tickets.create(_new(), AGENT)
    items, _ = services.tickets.search(TicketFilter(), CM_AGENT)
    assert {t["province_code"] for t in items} == {"50"}


def test_masked_personal_data_for_supervisors(services: Services) -> None:
    ref = services.tickets.create(
        _new(caller_phone="0812345678", citizen_id="1103702071811"), AGENT
    )["reference"]
    supervisor = Actor(name="boss", role="supervisor")
    seen = services.tickets.get(ref, supervisor)
    assert seen["caller_phone"] == "••••••5678"
    assert seen["citizen_id"] == "•••••••••1811"
    assert services.tickets.get(ref, AGENT)["citizen_id"] == "1103702071811"


def test_transcript_does_not_overwrite_a_call_takers_edit(services: Services) -> None:
    ticket = services.tickets.create(NewTicket(channel="phone"), Actor.system("ivr"))
    services.tickets.update_fields(ticket["reference"], {"category": "DRUGS"}, AGENT)
    result = services.tickets.apply_transcript(
        ticket["id"],
        transcript="มี การ ขาย ยา บ้า",
        words=[],
        extracted={
            "category": "GAMBLING",
            "province_code": "50",
            "district_code": "5015",
            "urgent": False,
        },
        confidence={"category": 0.9, "province_code": 0.8, "district_code": 0.7},
        asr_status="done",
    )
    assert result["category"] == "DRUGS"
    assert result["province_code"] == "50"
    assert result["district_code"] == "5015"
    assert result["field_confidence"] == {"province_code": 0.8, "district_code": 0.7, "urgent": 0.0}
    assert result["asr_status"] == "done"
    assert result["description"] == "มี การ ขาย ยา บ้า"


def test_transcript_with_inconsistent_place_keeps_the_province(services: Services) -> None:
    ticket = services.tickets.create(NewTicket(channel="phone"), Actor.system("ivr"))
    result = services.tickets.apply_transcript(
        ticket["id"],
        transcript="x",
        words=None,
        extracted={"province_code": "50", "district_code": "1001"},
        confidence={},
        asr_status="done",
    )
    assert (result["province_code"], result["district_code"]) == ("50", None)


def test_fifty_concurrent_creations_get_distinct_valid_references(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    references: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(50)

    def create() -> None:
        try:
            barrier.wait()
            references.append(services.tickets.create(_new(), AGENT)["reference"])
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(references)) == 50
    assert all(is_valid_reference(r) for r in references)
    assert "reference collision" not in caplog.text  # the counter is race-free, no retries


def test_claim_keeps_others_out_until_it_expires(services: Services) -> None:
    ref = services.tickets.create(_new(), AGENT)["reference"]
    first = Actor(name="a", role="agent", user_id=1)
    second = Actor(name="b", role="agent", user_id=2)
    services.users.add_user("a", "password-a", "agent")
    services.users.add_user("b", "password-b", "agent")
    assert services.tickets.claim(ref, first)["claimed_by"] == 1
    with pytest.raises(Conflict, match="another call-taker"):
        services.tickets.claim(ref, second)
    services.tickets.claim(ref, first, minutes=-1)  # expired
    assert services.tickets.claim(ref, second)["claimed_by"] == 2
    with pytest.raises(PermissionDenied):
        services.tickets.claim(ref, AGENT)  # no user behind it


def test_repeat_callers_open_tickets(services: Services) -> None:
    first = services.tickets.create(_new(caller_phone="0899999999"), AGENT)["reference"]
    closed = services.tickets.create(_new(caller_phone="0899999999"), AGENT)["reference"]
    services.tickets.transition(closed, "rejected", AGENT, reason="ทดสอบ")
    services.tickets.create(_new(caller_phone="0811111111"), AGENT)
    assert services.tickets.open_references_for_phone("089-999-9999") == [first]
    assert services.tickets.open_references_for_phone("") == []
    assert services.tickets.open_references_for_phone("not a number") == []


def test_claim_does_not_change_the_version_and_keeps_others_from_editing(
    services: Services,
) -> None:
    services.users.add_user("a", "password-a", "agent")
    services.users.add_user("b", "password-b", "agent")
    first = Actor(name="a", role="agent", user_id=1)
    second = Actor(name="b", role="agent", user_id=2)
    ticket = services.tickets.create(_new(), AGENT)
    ref, version = ticket["reference"], ticket["version"]
    claimed = services.tickets.claim(ref, first)
    assert claimed["version"] == version
    assert services.tickets.claim(ref, first)["version"] == version  # renewal
    with pytest.raises(Conflict, match="another call-taker"):
        services.tickets.update_fields(ref, {"urgent": True}, second)
    with pytest.raises(Conflict, match="another call-taker"):
        services.tickets.transition(ref, "confirmed", second)
    services.tickets.release(ref, second)  # not the holder: nothing happens
    assert services.tickets.get(ref)["claimed_by"] == 1
    edited = services.tickets.update_fields(ref, {"urgent": True}, first, expected_version=version)
    assert edited["urgent"] is True
    services.tickets.release(ref, first)
    assert services.tickets.get(ref)["claimed_by"] is None
    assert services.tickets.transition(ref, "confirmed", second)["status"] == "confirmed"


def test_description_follows_partial_then_final_transcript_until_edited(
    services: Services,
) -> None:
    ticket = services.tickets.create(NewTicket(channel="phone"), Actor.system("ivr"))

    def apply(text: str, status: str) -> dict[str, object]:
        return services.tickets.apply_transcript(
            ticket["id"],
            transcript=text,
            words=None,
            extracted={},
            confidence={},
            asr_status=status,
        )

    assert apply("น้ำ ท่วม", "streaming")["description"] == "น้ำ ท่วม"
    assert apply("น้ำ ท่วม บ้าน สูง", "done")["description"] == "น้ำ ท่วม บ้าน สูง"
    services.tickets.update_fields(ticket["reference"], {"description": "น้ำท่วมบ้าน"}, AGENT)
    assert apply("น้ำ ท่วม บ้าน สูง มาก", "done")["description"] == "น้ำท่วมบ้าน"
