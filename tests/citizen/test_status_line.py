"""The status line reads the result: a resolved ticket's kind of result and agency, an open
ticket's latest progress report (the look-up on SQLite and PostgreSQL, then what the flow says)."""

from __future__ import annotations

from ivr.flow.events import Digit, Play, PromptFinished, Started, StatusResult
from ivr.flow.machine import CallFlow
from ivr.flow.menu import FlowConfig
from ivr.prompts.manifest import load_manifest, manifest_path
from ivr.status_lookup import lookup_status
from ticketing.container import Services

from .helpers import PASSWORD, resolved_ticket, routed_ticket

PROMPTS = load_manifest(manifest_path(None)).ids


def _spoken(result: StatusResult) -> list[str]:
    flow = CallFlow(FlowConfig(), "t-1")
    for event in (Started(), PromptFinished(), Digit("2"), PromptFinished()):
        flow.handle(event)
    for key in result.reference:
        flow.handle(Digit(key))
    flow.handle(Digit("#"))
    return [p for a in flow.handle(result) if isinstance(a, Play) for p in a.prompts]


def test_a_resolved_ticket_tells_its_kind_of_result_and_agency(services: Services) -> None:
    ref = resolved_ticket(services, resolution_type="referred")
    result = lookup_status(services.tickets, PROMPTS, ref, "t-1")
    assert (result.status, result.result_prompt) == ("resolved", "result_type_referred")
    words = _spoken(result)
    told = words[words.index("status_resolved") : words.index("result_type_referred") + 1]
    assert told[-3:] == ["pause", "word_result", "result_type_referred"]


def test_an_open_ticket_tells_its_latest_progress_report(services: Services) -> None:
    ref, code = routed_ticket(services)
    assert lookup_status(services.tickets, PROMPTS, ref, "t-1").progress_on is None
    services.users.add_user("works", PASSWORD, "agency")
    services.agency_work.assign_user("works", code)
    agency = services.users.authenticate("works", PASSWORD)
    services.agency_work.accept(ref, agency)
    services.agency_work.progress_report(ref, agency, "กำลังซ่อม")
    result = lookup_status(services.tickets, PROMPTS, ref, "t-1")
    assert result.progress_on is not None and result.result_prompt is None
    words = _spoken(result)
    assert "progress_reported" in words and "agency_local_admin" in words
    assert set(words) - PROMPTS - {"pause"} == set()
