"""Open311 GeoReport v2: services, service definitions, requests in JSON and XML shaped like
the specification's examples, the error format for bad input, no personal data in public
GETs, API keys and the per-key rate limit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

import pytest
from starlette.testclient import TestClient

from agent_ui.app import create_app
from config.settings import Settings
from ticketing.actors import Actor
from ticketing.container import Services

BASE = "/open311/v2"

# The specification's own examples (wiki.open311.org/GeoReport_v2), element structure only.
SPEC_SERVICES = """<services><service><service_code>001</service_code>
<service_name>Cans left out 24x7</service_name><description>x</description>
<metadata>true</metadata><type>realtime</type><keywords>lorem, ipsum</keywords>
<group>sanitation</group></service></services>"""
SPEC_DEFINITION = """<service_definition><service_code>DMV66</service_code><attributes>
<attribute><variable>true</variable><code>WHISHETN</code><datatype>singlevaluelist</datatype>
<required>true</required><datatype_description></datatype_description><order>1</order>
<description>What?</description><values><value><key>123</key><name>Ford</name></value>
</values></attribute></attributes></service_definition>"""
SPEC_CREATED = """<service_requests><request><service_request_id>293944</service_request_id>
<service_notice>x</service_notice><account_id/></request></service_requests>"""
SPEC_REQUESTS = """<service_requests><request><service_request_id>638344</service_request_id>
<status>closed</status><status_notes>Duplicate request.</status_notes>
<service_name>Sidewalk</service_name><service_code>006</service_code><description></description>
<agency_responsible></agency_responsible><service_notice></service_notice>
<requested_datetime>2010-04-14T06:37:38-08:00</requested_datetime>
<updated_datetime>2010-04-14T06:37:38-08:00</updated_datetime>
<expected_datetime>2010-04-15T06:37:38-08:00</expected_datetime><address>8TH AVE</address>
<address_id>545483</address_id><zipcode>94122</zipcode><lat>37.76</lat><long>-122.46</long>
<media_url>http://city.org/media/638344.jpg</media_url></request></service_requests>"""
SPEC_ERRORS = """<errors><error><code>403</code><description>Invalid api_key</description>
</error></errors>"""


def shape(element: ET.Element) -> Any:
    """Tag names, nested, in order (a repeated item counted once): what 'validates against
    the examples' compares."""
    children: list[Any] = []
    for child in element:
        child_shape = shape(child)
        if not children or children[-1] != child_shape:
            children.append(child_shape)
    return (element.tag, children)


def same_shape(ours: bytes, spec: str) -> None:
    assert shape(ET.fromstring(ours)) == shape(ET.fromstring(spec))


@pytest.fixture
def key(services: Services) -> str:
    return services.open311_keys.add("fixmystreet-test")


def post(client: TestClient, fmt: str = "json", **fields: str) -> Any:
    return client.post(f"{BASE}/requests.{fmt}", data=fields)


def test_services_and_definitions_in_json_and_xml(client: TestClient) -> None:
    listed = client.get(f"{BASE}/services.json")
    assert listed.status_code == 200
    drugs = next(s for s in listed.json() if s["service_code"] == "DRUGS")
    assert drugs["service_name"] == "ยาเสพติด" and drugs["metadata"] is True
    assert {"group", "keywords", "type", "description"} <= set(drugs)
    xml = client.get(f"{BASE}/services.xml")
    assert xml.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(xml.content)
    assert len(root) == len(listed.json())
    same_shape(ET.tostring(root[0]).join([b"<services>", b"</services>"]), SPEC_SERVICES)
    definition = client.get(f"{BASE}/services/DRUGS.xml")
    same_shape(definition.content, SPEC_DEFINITION)
    assert client.get(f"{BASE}/services/DRUGS.json").json()["attributes"][0]["code"] == "urgent"
    missing = client.get(f"{BASE}/services/NOPE.xml")
    assert missing.status_code == 404
    same_shape(missing.content.replace(b"404", b"403"), SPEC_ERRORS)
    assert client.get(f"{BASE}/services.yaml").status_code == 404


def test_a_request_round_trip_without_personal_data(
    client: TestClient, services: Services, key: str
) -> None:
    created = post(
        client,
        "xml",
        api_key=key,
        service_code="INFRASTRUCTURE",
        description="ไฟถนนดับทั้งซอย โทรกลับ 0812345678",
        address_string="ซอยวัดเกต อำเภอเมืองเชียงใหม่ จังหวัดเชียงใหม่",
        phone="0812345678",
        first_name="สมศรี",
        last_name="ใจดี",
        email="somsri@example.com",
        **{"attribute[urgent]": "false"},
    )
    assert created.status_code == 200, created.text
    same_shape(created.content, SPEC_CREATED)
    ref = ET.fromstring(created.content).findtext("request/service_request_id")
    assert ref
    ticket = services.tickets.get(ref)
    assert (ticket["status"], ticket["channel"]) == ("draft", "web")
    assert (ticket["province_code"], ticket["district_code"]) == ("50", "5001")
    assert ticket["caller_phone"] == "0812345678"
    assert "somsri@example.com" in ticket["description"]

    one = client.get(f"{BASE}/requests/{ref}.json")
    assert one.status_code == 200
    [public] = one.json()
    assert public["status"] == "open" and public["service_code"] == "INFRASTRUCTURE"
    assert public["address"] == "เมืองเชียงใหม่ เชียงใหม่"
    text = one.text + client.get(f"{BASE}/requests.json").text
    for secret in ("0812345678", "สมศรี", "somsri", "ไฟถนนดับ"):
        assert secret not in text
    same_shape(client.get(f"{BASE}/requests/{ref}.xml").content, SPEC_REQUESTS)

    # The agency resolves it: the public status closes with the notes, digits masked.
    agent = Actor(name="somchai", role="agent")
    services.tickets.transition(ref, "confirmed", agent)
    services.tickets.transition(ref, "resolved", agent, resolution="ซ่อมแล้ว แจ้ง 0812345678")
    closed = client.get(f"{BASE}/requests.json", params={"status": "closed"}).json()
    assert [r["service_request_id"] for r in closed] == [ref]
    assert closed[0]["status_notes"] == "ซ่อมแล้ว แจ้ง ••••••••••"
    assert client.get(f"{BASE}/requests.json", params={"status": "open"}).json() == []
    by_code = client.get(f"{BASE}/requests.json", params={"service_code": "DRUGS"}).json()
    assert by_code == []
    assert client.get(f"{BASE}/requests/123456789.json").status_code == 404


def test_coordinates_are_kept_rounded(client: TestClient, services: Services, key: str) -> None:
    created = post(
        client,
        api_key=key,
        service_code="NUISANCE",
        description="เสียงดัง",
        lat="18.78812",
        long="98.98533",
    )
    assert created.status_code == 200, created.text
    ref = created.json()[0]["service_request_id"]
    public = client.get(f"{BASE}/requests/{ref}.json").json()[0]
    assert (public["lat"], public["long"]) == (18.788, 98.985)


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        (
            {"service_code": "DRUGS", "description": "x", "address_string": "เชียงใหม่"},
            403,
            "api_key",
        ),
        ({"service_code": "NOPE", "description": "x", "address_string": "ก"}, 400, "service_code"),
        ({"service_code": "DRUGS", "description": "x"}, 400, "location"),
        (
            {
                "service_code": "DRUGS",
                "description": "x",
                "lat": "18.7",
                "long": "98.9",
                "address_string": "ก",
            },
            400,
            "not both",
        ),
        ({"service_code": "DRUGS", "description": "x", "lat": "18.7"}, 400, "together"),
        (
            {"service_code": "DRUGS", "description": "x", "lat": "north", "long": "98"},
            400,
            "number",
        ),
        (
            {"service_code": "DRUGS", "description": "x", "lat": "48.8", "long": "2.3"},
            400,
            "outside",
        ),
        (
            {"service_code": "DRUGS", "description": "ก" * 4001, "address_string": "ก"},
            400,
            "longer",
        ),
        ({"service_code": "DRUGS", "description": "", "address_string": "ก"}, 400, "description"),
        (
            {"service_code": "DRUGS", "description": "x", "address_string": "ก", "phone": "12"},
            400,
            "phone",
        ),
    ],
)
def test_bad_requests_get_the_spec_error_format(
    client: TestClient, key: str, fields: dict[str, str], status: int, words: str
) -> None:
    with_key = fields if status == 403 else {"api_key": key, **fields}
    for fmt in ("json", "xml"):
        response = post(client, fmt, **with_key)
        assert response.status_code == status, response.text
        if fmt == "json":
            [error] = response.json()
            assert error["code"] == status and words in error["description"]
        else:
            root = ET.fromstring(response.content)
            assert root.tag == "errors" and root.findtext("error/code") == str(status)
            assert words in (root.findtext("error/description") or "")


def test_revoked_keys_bad_dates_and_statuses(
    client: TestClient, services: Services, key: str
) -> None:
    assert services.open311_keys.revoke(key[:11]) == 1
    revoked = post(client, api_key=key, service_code="DRUGS", description="x", address_string="ก")
    assert revoked.status_code == 403 and "revoked" in revoked.json()[0]["description"]
    wide = client.get(
        f"{BASE}/requests.json",
        params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
    )
    assert wide.status_code == 400 and "90 days" in wide.json()[0]["description"]
    assert client.get(f"{BASE}/requests.xml", params={"start_date": "soon"}).status_code == 400
    assert client.get(f"{BASE}/requests.json", params={"status": "pending"}).status_code == 400
    window = client.get(
        f"{BASE}/requests.json",
        params={"start_date": "2026-01-01T00:00:00+07:00", "end_date": "2026-02-01T00:00:00+07:00"},
    )
    assert window.status_code == 200 and window.json() == []


def test_posts_are_rate_limited_per_key(settings: Settings, services: Services) -> None:
    limited = create_app(replace(settings, open311_rate_per_minute=3), services)
    first = services.open311_keys.add("a")
    second = services.open311_keys.add("b")
    with TestClient(limited) as client:
        fields = {"service_code": "DRUGS", "description": "x", "address_string": "เชียงใหม่"}
        codes = [post(client, api_key=first, **fields).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert post(client, api_key=second, **fields).status_code == 200
        body = json.loads(post(client, api_key=first, **fields).text)
        assert body[0]["code"] == 429
