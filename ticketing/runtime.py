"""Process start-up shared by every role (web, ivr, asr-worker, CLI commands)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from config.settings import Settings
from ticketing.container import Services, build_services
from ticketing.embedded_redis import EmbeddedRedis
from ticketing.logformat import log_handler


def configure_logging(settings: Settings) -> None:
    # HOTLINE_LOG_FORMAT=json: one JSON object a line, call id and ticket reference as fields.
    logging.basicConfig(level=settings.log_level, handlers=[log_handler(settings.log_format)])


@contextmanager
def running_services(
    settings: Settings,
    *,
    start_relay: bool = True,
    redis_timeout: float = 5.0,
    db_connections: int | None = None,
) -> Iterator[Services]:
    """Services for one process; with HOTLINE_REDIS_URL unset, the embedded Redis under the data
    dir is used (started here if no other process of this installation runs it)."""
    with ExitStack() as stack:
        url = settings.redis_url
        if url is None:
            url = stack.enter_context(EmbeddedRedis(settings.data_dir)).url
        services = build_services(
            settings,
            redis_url=url,
            start_relay=start_relay,
            redis_timeout=redis_timeout,
            db_connections=db_connections,
        )
        stack.callback(services.close)
        yield services
