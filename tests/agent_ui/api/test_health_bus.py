"""/healthz asks Redis through the event bus: down is a named error and 503, not a crash."""

from __future__ import annotations

from starlette.testclient import TestClient

from ticketing.embedded_redis import EmbeddedRedis


def test_healthz_names_the_redis_error_when_it_is_down(
    client: TestClient, redis_server: EmbeddedRedis
) -> None:
    redis_server.stop()
    try:
        health = client.get("/healthz")
    finally:
        redis_server.start()
    assert health.status_code == 503
    body = health.json()
    assert body["status"] == "degraded"
    assert body["database"] == "ok"
    assert body["redis"] == "error: ConnectionError"  # the cause, as before the bus mapped it
