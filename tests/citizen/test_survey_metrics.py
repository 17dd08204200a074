"""The survey counts: average, distribution, response rate, groups, periods, the CSV columns and
a scoped supervisor's provinces."""

from __future__ import annotations

from datetime import time

from config.citizen_settings import CitizenSettings
from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.models import SurveyResult
from ticketing.result_calls import ResultCalls
from ticketing.survey_metrics import EXPORT_HEADER, month_start

from .helpers import bangkok, resolved_ticket


def test_ratings_from_both_sources_are_counted(services: Services) -> None:
    calls = ResultCalls(
        services.sessions, services.catalog, CitizenSettings(call_start=time(0), call_end=None)
    )
    rated, machine, surveyed = (resolved_ticket(services) for _ in range(3))
    claims = {c.ticket_reference: c for c in calls.claim_due("n", limit=3)}
    calls.finish(claims[rated], "rated", rating=4)
    calls.finish(claims[machine], "message_left")  # no chance to rate: not in the rate
    calls.finish(claims[surveyed], "answered")
    with services.sessions.begin() as session:
        session.add(SurveyResult(ticket_id=services.tickets.get(surveyed)["id"], rating=1))
        session.add(SurveyResult(ticket_id=None, rating=5))  # no ticket: no province, not shown
    figures = services.survey.figures()
    for period in ("30d", "month"):
        p = figures[period]
        assert (p["ratings"], p["average"], p["chances"]) == (2, 2.5, 2)
        assert p["distribution"] == {"1": 1, "2": 0, "3": 0, "4": 1, "5": 0}
        assert p["response_rate"] == 1.0
        assert p["by"]["province_code"] == [{"key": "50", "ratings": 2, "average": 2.5}]
        assert p["by"]["category"][0]["key"] == "INFRASTRUCTURE"
    bangkok_boss = Actor(name="b", role="supervisor", provinces=("10",))
    assert services.survey.figures(bangkok_boss)["30d"]["ratings"] == 0
    header, rows = EXPORT_HEADER, services.survey.export_rows()
    assert header[-2:] == ("ratings", "rating_average")
    assert sum(r[6] for r in rows) == 2
    assert [r[7] for r in rows if r[6]] == [2.5]
    assert services.survey.export_rows(actor=bangkok_boss) == []


def test_this_month_starts_on_the_first_in_bangkok() -> None:
    assert month_start(bangkok("2026-12-03 10:00")) == bangkok("2026-12-01 00:00")
    assert month_start(bangkok("2026-12-01 00:30")) == bangkok("2026-12-01 00:00")
