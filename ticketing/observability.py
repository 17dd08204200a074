"""Each role's operator endpoint: ``/metrics`` (prometheus_client's default registry), ``/livez``
(the process is up) and ``/readyz`` (it can serve).

Ready means the database answers. Redis down makes a role "degraded" but still ready (200): writes
survive in the outbox and the WAV files, so taking the process out of service would lose more than
it saves. The web role answers the same three paths on its own port (``agent_ui.api.health``);
ivr, asr-worker and scheduler start this server on their ``HOTLINE_*_METRICS_PORT`` (0 = off).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import Engine, create_engine, text

from config.settings import Settings, SettingsError
from ticketing.embedded_redis import EmbeddedRedis
from ticketing.errors import BusUnavailable
from ticketing.events import EventBus

log = logging.getLogger(__name__)

# A probe must answer quickly: a readiness check never waits on a role's own 5 s Redis timeout.
PROBE_TIMEOUT_SECONDS = 2.0

Check = Callable[[], None]


@dataclass(frozen=True)
class ReadyReport:
    status: str  # "ready", "degraded" (Redis down) or "not ready" (database down)
    database: str
    redis: str

    @property
    def http_status(self) -> int:
        return 503 if self.status == "not ready" else 200

    def as_json(self) -> dict[str, str]:
        return {"status": self.status, "database": self.database, "redis": self.redis}


class Readiness:
    """Runs the two checks; each is a callable that raises when its service cannot be reached."""

    def __init__(self, database: Check, bus: Check, close: Check | None = None) -> None:
        self._database = database
        self._bus = bus
        self._close = close

    def close(self) -> None:
        """Release the connections the checks opened themselves (none for ``of``)."""
        if self._close is not None:
            self._close()

    def report(self, timeout: float = PROBE_TIMEOUT_SECONDS + 0.5) -> ReadyReport:
        """Both checks at once, each given ``timeout`` seconds: a hung service answers
        "error: TimeoutError" instead of holding up the probe."""
        database, bus = _outcomes((self._database, self._bus), timeout)
        if database != "ok":
            status = "not ready"
        elif bus != "ok":
            status = "degraded"
        else:
            status = "ready"
        return ReadyReport(status=status, database=database, redis=bus)

    @classmethod
    def from_settings(cls, settings: Settings) -> Readiness:
        """Checks with their own short-timeout connections to the role's database and Redis, so
        the endpoint answers while the role is still starting and never waits on its pools."""
        engine = _probe_engine(settings.effective_database_url)
        url = settings.redis_url or EmbeddedRedis(settings.data_dir).url
        client = redis.Redis.from_url(
            url,
            socket_timeout=PROBE_TIMEOUT_SECONDS,
            socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
        )

        bus = EventBus(client)

        def close() -> None:
            client.close()
            engine.dispose()

        return cls(lambda: _select_one(engine), bus.ping, close)


def _outcomes(checks: tuple[Check, ...], timeout: float) -> list[str]:
    results = ["error: TimeoutError"] * len(checks)

    def run(index: int, check: Check) -> None:
        results[index] = _outcome(check)

    threads = [
        threading.Thread(target=run, args=(i, check), name="readiness-check", daemon=True)
        for i, check in enumerate(checks)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return list(results)  # a check still running stays a timeout, whatever it returns later


def _outcome(check: Check) -> str:
    try:
        check()
    except BusUnavailable as exc:  # named by what the Redis client raised (ConnectionError, …)
        return f"error: {type(exc.__cause__ or exc).__name__}"
    except Exception as exc:  # any failure of the service is "not reachable", named by its type
        return f"error: {type(exc).__name__}"
    return "ok"


def _select_one(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _probe_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # Not make_engine: its BEGIN IMMEDIATE would queue the probe behind every writer.
        return create_engine(url, connect_args={"timeout": PROBE_TIMEOUT_SECONDS})
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(
        url,
        pool_size=1,
        max_overflow=0,
        pool_pre_ping=True,
        connect_args={"connect_timeout": int(PROBE_TIMEOUT_SECONDS)},
    )


def metrics_text() -> bytes:
    """Prometheus text exposition of the process's default registry."""
    return generate_latest(REGISTRY)


class ObservabilityServer:
    """A small threaded HTTP server on its own port (stdlib, no event loop of its own)."""

    def __init__(self, host: str, port: int, readiness: Readiness, *, role: str) -> None:
        self.role = role
        self._readiness = readiness
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"{self.role}-metrics", daemon=True
        )
        self._thread.start()
        host, port = self.address
        log.info("%s: /metrics, /livez and /readyz on http://%s:%d", self.role, host, port)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._readiness.close()

    def respond(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for one GET; pure enough to test without a socket."""
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, metrics_text()
        if path == "/livez":
            return 200, "application/json", _json({"status": "alive", "role": self.role})
        if path == "/readyz":
            report = self._readiness.report()
            return report.http_status, "application/json", _json(report.as_json())
        return 404, "application/json", _json({"error": "not found", "path": path})


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def _handler_for(server: ObservabilityServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, content_type, body = server.respond(self.path.split("?", 1)[0])
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s metrics endpoint: " + format, server.role, *args)

    return Handler


@contextmanager
def role_observability(
    settings: Settings, role: str, port: int, variable: str
) -> Iterator[ObservabilityServer | None]:
    """Serve /metrics, /livez, /readyz for one role while the block runs; port 0 turns it off.
    ``variable`` names the setting, so a port already taken stops start-up naming it."""
    if port == 0:
        log.info("%s: metrics endpoint off (%s=0)", role, variable)
        yield None
        return
    readiness = Readiness.from_settings(settings)
    try:
        server = ObservabilityServer(settings.metrics_host, port, readiness, role=role)
    except OSError as exc:
        readiness.close()
        raise SettingsError(
            f"{variable}={port}: cannot listen on {settings.metrics_host}:{port}: {exc.strerror}"
        ) from exc
    server.start()
    try:
        yield server
    finally:
        server.stop()
