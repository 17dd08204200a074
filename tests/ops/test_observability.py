"""The operator endpoint every role serves: /metrics, /livez, /readyz over a real socket."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, Counter
from sqlalchemy import text

from config.settings import Settings, SettingsError
from tests.ops.probes import free_tcp_port, get, get_json, metric_families, promtool_check
from ticketing.db import make_engine
from ticketing.embedded_redis import EmbeddedRedis
from ticketing.observability import (
    ObservabilityServer,
    Readiness,
    ReadyReport,
    role_observability,
)

# A metric of the kind the packages define at module level (name hotline_*, default registry).
PROBED = Counter("hotline_test_probes", "Probes counted by the observability tests.")


def _fails() -> None:
    raise ConnectionRefusedError("nothing listens")


def _fine() -> None:
    return None


@pytest.mark.parametrize(
    ("database", "bus", "status", "http"),
    [
        (_fine, _fine, "ready", 200),
        (_fine, _fails, "degraded", 200),
        (_fails, _fine, "not ready", 503),
        (_fails, _fails, "not ready", 503),
    ],
)
def test_ready_needs_the_database_and_tolerates_redis_down(
    database: object, bus: object, status: str, http: int
) -> None:
    report = Readiness(database, bus).report()  # type: ignore[arg-type]
    assert (report.status, report.http_status) == (status, http)
    assert report.database == ("ok" if database is _fine else "error: ConnectionRefusedError")
    assert report.redis == ("ok" if bus is _fine else "error: ConnectionRefusedError")


@pytest.fixture
def server(settings: Settings) -> Iterator[ObservabilityServer]:
    endpoint = ObservabilityServer(
        "127.0.0.1", 0, Readiness.from_settings(settings), role="test-role"
    )
    endpoint.start()
    yield endpoint
    endpoint.stop()


def _base(server: ObservabilityServer) -> str:
    host, port = server.address
    return f"http://{host}:{port}"


def test_metrics_export_the_default_registry_as_valid_text(server: ObservabilityServer) -> None:
    PROBED.inc(3)
    status, content_type, body = get(f"{_base(server)}/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=")
    families = metric_families(body)
    assert families["hotline_test_probes"].type == "counter"
    assert families["hotline_test_probes"].samples[0].value >= 3
    assert "process_cpu_seconds" in families  # the process collector of the default registry
    checked = promtool_check(body)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_livez_and_readyz_with_database_and_redis_up(server: ObservabilityServer) -> None:
    assert get_json(f"{_base(server)}/livez") == (200, {"status": "alive", "role": "test-role"})
    assert get_json(f"{_base(server)}/readyz") == (
        200,
        {"status": "ready", "database": "ok", "redis": "ok"},
    )
    assert get_json(f"{_base(server)}/nothing")[0] == 404


def test_redis_down_is_degraded_but_ready(tmp_path: Path, database_url: str) -> None:
    gone = EmbeddedRedis(tmp_path / "no-redis").url  # a socket nobody serves
    settings = Settings(data_dir=tmp_path, database_url=database_url, redis_url=gone)
    with role_observability(settings, "ivr", free_tcp_port(), "HOTLINE_IVR_METRICS_PORT") as srv:
        assert srv is not None
        status, body = get_json(f"{_base(srv)}/readyz")
    assert status == 200
    assert body["status"] == "degraded" and body["database"] == "ok"
    assert body["redis"].startswith("error: ")


def test_database_down_is_not_ready(tmp_path: Path, redis_url: str) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"postgresql://nobody@127.0.0.1:{free_tcp_port()}/none",
        redis_url=redis_url,
    )
    with role_observability(settings, "asr-worker", free_tcp_port(), "X") as srv:
        assert srv is not None
        assert get_json(f"{_base(srv)}/livez")[0] == 200  # up, though it cannot serve
        status, body = get_json(f"{_base(srv)}/readyz")
    assert status == 503
    assert body == {"status": "not ready", "database": "error: OperationalError", "redis": "ok"}


def test_port_zero_turns_the_endpoint_off(settings: Settings) -> None:
    with role_observability(settings, "ivr", 0, "HOTLINE_IVR_METRICS_PORT") as srv:
        assert srv is None


def test_a_taken_port_stops_start_up_naming_the_variable(settings: Settings) -> None:
    port = free_tcp_port()
    with (
        role_observability(settings, "ivr", port, "HOTLINE_IVR_METRICS_PORT"),
        pytest.raises(SettingsError) as error,
        role_observability(settings, "ivr", port, "HOTLINE_IVR_METRICS_PORT"),
    ):
        pass
    assert str(error.value).startswith(
        f"HOTLINE_IVR_METRICS_PORT={port}: cannot listen on 127.0.0.1:{port}: "
    )


def test_the_report_shape_is_what_probes_read() -> None:
    report = ReadyReport(status="degraded", database="ok", redis="error: TimeoutError")
    assert report.as_json() == {
        "status": "degraded",
        "database": "ok",
        "redis": "error: TimeoutError",
    }
    assert REGISTRY.get_sample_value("hotline_test_probes_total") is not None


def test_a_sqlite_writer_holding_its_lock_does_not_hold_up_the_probe(
    tmp_path: Path, redis_url: str
) -> None:
    url = f"sqlite:///{tmp_path / 'busy.sqlite3'}"
    writer = make_engine(url)
    readiness = Readiness.from_settings(
        Settings(data_dir=tmp_path, database_url=url, redis_url=redis_url)
    )
    try:
        with writer.begin() as connection:  # BEGIN IMMEDIATE: the write lock is held
            connection.execute(text("CREATE TABLE held (x INTEGER)"))
            started = time.monotonic()
            report = readiness.report()
            waited = time.monotonic() - started
    finally:
        readiness.close()
        writer.dispose()
    assert report.status == "ready"
    assert waited < 1.0


def test_a_hung_service_is_a_timeout_not_a_hung_probe() -> None:
    hung = threading.Event()
    readiness = Readiness(_fine, lambda: hung.wait(30) and None)
    started = time.monotonic()
    try:
        report = readiness.report(timeout=0.5)
    finally:
        hung.set()
    assert time.monotonic() - started < 5
    assert (report.status, report.redis) == ("degraded", "error: TimeoutError")
    assert report.database == "ok"
