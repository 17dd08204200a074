"""The web role answers /livez, /readyz and /metrics on its own port (no sign-in needed)."""

from __future__ import annotations

from starlette.testclient import TestClient

from agent_ui.app import create_app
from config.settings import Settings
from tests.ops.probes import metric_families, promtool_check
from ticketing.container import Services
from ticketing.embedded_redis import EmbeddedRedis


def test_web_livez_and_readyz(settings: Settings, services: Services) -> None:
    with TestClient(create_app(settings, services)) as client:
        live = client.get("/livez")
        ready = client.get("/readyz")
    assert (live.status_code, live.json()) == (200, {"status": "alive", "role": "web"})
    assert (ready.status_code, ready.json()) == (
        200,
        {"status": "ready", "database": "ok", "redis": "ok"},
    )


def test_web_metrics_hold_the_database_figures_and_the_default_registry(
    settings: Settings, services: Services
) -> None:
    with TestClient(create_app(settings, services)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    families = metric_families(response.text)
    assert families["hotline_drafts_waiting"].samples[0].value == 0
    assert "hotline_asr_queue_seconds" in families
    assert "process_cpu_seconds" in families and "python_info" in families
    checked = promtool_check(response.text)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_web_with_redis_down_is_degraded_but_ready(
    settings: Settings, services: Services, redis_server: EmbeddedRedis
) -> None:
    with TestClient(create_app(settings, services)) as client:
        redis_server.stop()
        try:
            ready = client.get("/readyz")
            live = client.get("/livez")
        finally:
            redis_server.start()
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded" and ready.json()["database"] == "ok"
    assert live.status_code == 200
