"""Subcommand ``web``: the console, dashboard and JSON API (one process; run several behind a
proxy in production)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import uvicorn

from agent_ui.app import create_app
from config.settings import Settings
from ticketing.db import schema_is_current
from ticketing.runtime import configure_logging, running_services


def register(sub: Any) -> None:
    web = sub.add_parser("web", help="serve the console, dashboard and API")
    web.add_argument("--host", help="bind address (default HOTLINE_WEB_HOST or 127.0.0.1)")
    web.add_argument("--port", type=int, help="port (default HOTLINE_WEB_PORT or 8080)")
    web.set_defaults(handler=serve_web)


def serve_web(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    configure_logging(settings)
    with running_services(settings) as services:
        if not schema_is_current(services.engine):
            print(
                "hotline1567: the database schema is not current; run 'hotline1567 db upgrade'",
                file=sys.stderr,
            )
            return 2
        app = create_app(settings, services)
        config = uvicorn.Config(
            app,
            host=args.host or settings.web_host,
            port=args.port or settings.web_port,
            log_level=settings.log_level.lower(),
            # JSON logs: uvicorn's loggers go through the root handler (configure_logging).
            log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
            # X-Forwarded-For only from the proxies the deployer lists (HOTLINE_TRUSTED_PROXIES).
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=list(settings.trusted_proxies) or None,
            timeout_graceful_shutdown=5,
        )
        uvicorn.Server(config).run()
    return 0
