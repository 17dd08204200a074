"""Queue order, claims, conflicts, caller history, dashboard figures and CSV."""

from __future__ import annotations

import csv
import io

from starlette.testclient import TestClient

from config.settings import Settings
from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.tickets import NewTicket

from .conftest import phone_draft, sign_in

CALLER = "0812345678"


def agent(services: Services, name: str) -> Actor:
    user = next(u for u in services.users.list_users() if u["username"] == name)
    actor = services.users.actor_by_id(user["id"])
    assert actor is not None
    return actor


def test_queue_is_urgent_first_then_oldest(
    client: TestClient, services: Services, settings: Settings
) -> None:
    first = phone_draft(services, settings)
    second = phone_draft(services, settings)
    urgent = services.tickets.create(
        NewTicket(description="น้ำท่วมบ้าน มีคนติดอยู่", urgent=True, channel="phone"),
        Actor.system("ivr"),
    )
    token = sign_in(client, "somchai")
    items = client.get("/console/api/queue").json()["items"]
    refs = [i["reference"] for i in items]
    assert refs == [urgent["reference"], first.ticket["reference"], second.ticket["reference"]]
    # A claim shows who holds it, to the others.
    claim = client.post(
        f"/console/api/tickets/{first.ticket['reference']}/claim", headers={"X-CSRF-Token": token}
    )
    assert claim.status_code == 200
    client.cookies.clear()
    other = sign_in(client, "malee")
    items = client.get("/console/api/queue").json()["items"]
    held = next(i for i in items if i["reference"] == first.ticket["reference"])
    assert held["claimed_by_name"] == "somchai"
    taken = client.post(
        f"/console/api/tickets/{first.ticket['reference']}/claim", headers={"X-CSRF-Token": other}
    )
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "claimed"
    assert taken.json()["error"]["holder"]["username"] == "somchai"


def test_release_lets_another_claim(
    client: TestClient, services: Services, settings: Settings
) -> None:
    draft = phone_draft(services, settings)
    reference = draft.ticket["reference"]
    token = sign_in(client, "somchai")
    client.post(f"/console/api/tickets/{reference}/claim", headers={"X-CSRF-Token": token})
    released = client.post(
        f"/console/api/tickets/{reference}/release", headers={"X-CSRF-Token": token}
    )
    assert released.status_code == 200
    services.tickets.claim(reference, agent(services, "malee"))  # no conflict now


def test_second_save_of_the_same_version_is_a_conflict(
    client: TestClient, services: Services, settings: Settings
) -> None:
    draft = phone_draft(services, settings)
    reference = draft.ticket["reference"]
    token = sign_in(client, "somchai")
    version = client.get(f"/api/v1/tickets/{reference}").json()["version"]
    headers = {"X-CSRF-Token": token}
    one = client.patch(
        f"/api/v1/tickets/{reference}",
        json={"description": "ฉบับแรก", "version": version},
        headers=headers,
    )
    assert one.status_code == 200
    two = client.patch(
        f"/api/v1/tickets/{reference}",
        json={"description": "ฉบับที่สอง", "version": version},
        headers=headers,
    )
    assert two.status_code == 409
    assert two.json()["error"]["code"] == "stale_version"
    assert services.tickets.get(reference)["description"] == "ฉบับแรก"


def test_caller_history_uses_the_real_number(
    client: TestClient, services: Services, settings: Settings
) -> None:
    older = phone_draft(services, settings, caller=CALLER)
    newer = phone_draft(services, settings, caller=CALLER)
    phone_draft(services, settings, caller="0899999999")
    sign_in(client, "boss")  # supervisors see masked numbers, yet the history is found
    items = client.get(f"/console/api/tickets/{newer.ticket['reference']}/history").json()["items"]
    assert [i["reference"] for i in items] == [older.ticket["reference"]]
    assert "•" in items[0]["caller_phone"]


def test_dashboard_figures_and_csv(
    client: TestClient, services: Services, settings: Settings
) -> None:
    draft = phone_draft(services, settings)
    reference = draft.ticket["reference"]
    somchai = agent(services, "somchai")
    services.tickets.update_fields(reference, {"category": "NUISANCE"}, somchai)
    services.tickets.transition(reference, "confirmed", somchai)
    services.tickets.route(reference, None, somchai)
    phone_draft(services, settings)
    sign_in(client, "boss")
    figures = client.get("/console/api/dashboard").json()
    assert figures["summary"]["drafts_waiting"] == 1
    assert figures["summary"]["calls_in_ivr"] == 2
    assert figures["backlog_by_age"]["0-7"] == 2
    activity = {row["actor"]: row for row in figures["activity"]}
    assert activity["somchai"]["confirmed"] == 1 and activity["somchai"]["routed"] == 1
    by_category = figures["over_time"]["category"]
    assert sum(by_category["series"]["NUISANCE"]) == 1
    assert len(by_category["days"]) == 14
    export = client.get("/dashboard/export.csv")
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert rows[0][0] == "day_bangkok"
    assert sum(int(r[5]) for r in rows[1:]) == 2
    assert any(r[1] == "NUISANCE" and r[4] == "routed" for r in rows[1:])
    assert CALLER_PHONE_ABSENT(export.text)


def CALLER_PHONE_ABSENT(text: str) -> bool:
    return "0812345678" not in text


def test_queue_snippets_and_history_are_masked_for_supervisors(
    client: TestClient, services: Services, settings: Settings
) -> None:
    older = phone_draft(services, settings, caller=CALLER)
    newer = services.tickets.create(
        NewTicket(description="ก" * 130 + f" โทร {CALLER}", caller_phone=CALLER, channel="phone"),
        Actor.system("ivr"),
    )
    sign_in(client, "boss")
    items = client.get("/console/api/queue").json()["items"]
    snippet = next(i["snippet"] for i in items if i["reference"] == newer["reference"])
    assert CALLER not in snippet and CALLER[:5] not in snippet and len(snippet) <= 140
    history = client.get(f"/console/api/tickets/{newer['reference']}/history").json()["items"]
    assert [t["reference"] for t in history] == [older.ticket["reference"]]
    assert history[0]["caller_phone"] == "••••••5678"
    exported = client.get("/dashboard/export.csv").text
    assert CALLER not in exported and "5678" not in exported


def test_a_scoped_supervisor_sees_and_hears_only_their_provinces(
    client: TestClient, services: Services, settings: Settings
) -> None:
    services.users.add_user("cm_boss", "correct-horse-1", "supervisor", provinces=("50",))
    bangkok = phone_draft(services, settings)
    services.tickets.apply_transcript(
        bangkok.ticket["id"],
        transcript="ถนนพัง กรุงเทพ",
        words=[],
        extracted={"province_code": "10"},
        confidence={"province_code": 0.9},
        asr_status="done",
    )
    unplaced = phone_draft(services, settings)
    sign_in(client, "cm_boss")
    refs = [i["reference"] for i in client.get("/console/api/queue").json()["items"]]
    assert refs == [unplaced.ticket["reference"]]
    assert client.get(f"/recordings/{bangkok.recording_id}").status_code == 403
    assert client.get(f"/api/v1/tickets/{bangkok.ticket['reference']}").status_code == 403
    claim = client.post(
        f"/console/api/tickets/{bangkok.ticket['reference']}/claim",
        headers={"X-CSRF-Token": sign_in(client, "cm_boss")},
    )
    assert claim.status_code == 403


def test_a_scoped_supervisors_dashboard_and_csv_count_only_their_provinces(
    client: TestClient, services: Services, settings: Settings
) -> None:
    somchai = agent(services, "somchai")
    for province in ("10", "10", "50"):
        draft = phone_draft(services, settings)
        reference = draft.ticket["reference"]
        services.tickets.update_fields(
            reference, {"category": "NUISANCE", "province_code": province}, somchai
        )
        services.tickets.transition(reference, "confirmed", somchai)
    services.users.add_user("cm_boss", "correct-horse-1", "supervisor", provinces=("50",))
    sign_in(client, "boss")  # unscoped: the whole country
    everything = client.get("/console/api/dashboard").json()
    assert everything["summary"]["open_tickets"] == 3
    assert everything["backlog_by_age"]["0-7"] == 3
    sign_in(client, "cm_boss")
    mine = client.get("/console/api/dashboard").json()
    assert mine["summary"]["open_tickets"] == 1
    assert mine["backlog_by_age"]["0-7"] == 1
    assert set(mine["over_time"]["province_code"]["series"]) == {"50"}
    rows = list(csv.reader(io.StringIO(client.get("/dashboard/export.csv").text.lstrip("\ufeff"))))
    assert {r[2] for r in rows[1:]} == {"50"} and sum(int(r[5]) for r in rows[1:]) == 1
