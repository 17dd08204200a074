"""``hotline1567 run``: the whole system on one machine.

Starts (or reuses) the embedded Redis and Kamailio when no external ones are configured, brings the
database schema up to date, renders missing prompts, creates the first accounts, then runs the
``web``, ``ivr`` and ``asr-worker`` roles as child processes — the same processes production runs
as separate services. Every child it started (Redis, Kamailio, each role) is restarted with
backoff when it dies (hotline1567/supervisor.py); Ctrl-C or SIGTERM stops everything.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from typing import Any

from config.catalog import CatalogError, load_catalog
from config.settings import Settings
from hotline1567.first_run import ensure_first_users, ensure_ivr_account
from hotline1567.supervisor import RoleProcess, Supervisor
from ticketing.container import sync_agencies
from ticketing.db import make_engine, make_sessionmaker, upgrade_schema
from ticketing.embedded_redis import EmbeddedRedis, EmbeddedRedisError
from ticketing.errors import InvalidInput
from ticketing.runtime import configure_logging
from ticketing.sip_accounts import SipAccountService
from ticketing.users import UserService

log = logging.getLogger(__name__)

ROLES = ("web", "ivr", "asr-worker", "scheduler")


def register(sub: Any) -> None:
    run = sub.add_parser("run", help="start the whole system on this machine")
    run.add_argument(
        "--without",
        action="append",
        default=[],
        choices=ROLES,
        help="leave a role out (repeatable), e.g. --without ivr",
    )
    run.set_defaults(handler=run_all)


def run_all(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    configure_logging(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        catalog = load_catalog(settings.config_dir)
    except CatalogError as exc:
        print(f"hotline1567: configuration error: {exc}", file=sys.stderr)
        return 2
    roles = [r for r in ROLES if r not in args.without]
    stop = _stop_on_signals()
    supervisor = Supervisor([])
    try:
        env = dict(os.environ)
        env["HOTLINE_DATA_DIR"] = str(settings.data_dir.resolve())
        if settings.redis_url is None:
            redis = EmbeddedRedis(settings.data_dir)
            try:
                redis.start()
            except EmbeddedRedisError as exc:
                print(f"hotline1567: {exc}", file=sys.stderr)
                return 2
            supervisor.adopt("redis", redis)
            env["HOTLINE_REDIS_URL"] = redis.url
        url = settings.effective_database_url
        upgrade_schema(url)
        sessions = make_sessionmaker(make_engine(url))
        sync_agencies(sessions, catalog)
        credentials = ensure_first_users(UserService(sessions), settings.data_dir)
        if "ivr" in roles:
            if _build_prompts(env) != 0:
                print(
                    "hotline1567: prompts could not be built; see the message above",
                    file=sys.stderr,
                )
                return 2
            if settings.sip_registrar is None:
                from ivr.kamailio import EmbeddedKamailio

                try:
                    password = ensure_ivr_account(SipAccountService(sessions), settings)
                except InvalidInput as exc:
                    print(f"hotline1567: HOTLINE_SIP_PASSWORD: {exc}", file=sys.stderr)
                    return 2
                env["HOTLINE_SIP_PASSWORD"] = password
                kamailio = EmbeddedKamailio(settings)
                kamailio.start()
                supervisor.adopt("kamailio", kamailio)
                host, port = kamailio.registrar
                env["HOTLINE_SIP_REGISTRAR"] = f"{host}:{port}"
        _print_banner(settings, env, credentials, roles)
        for role in roles:
            supervisor.add(role, RoleProcess(role, env))
        supervisor.run(stop)
    finally:
        supervisor.stop_all()
    return 0


def _build_prompts(env: dict[str, str]) -> int:
    return subprocess.call([sys.executable, "-m", "hotline1567", "prompts", "build"], env=env)


def _print_banner(
    settings: Settings, env: dict[str, str], credentials: Any, roles: list[str]
) -> None:
    lines = [
        "",
        "hotline1567 is starting:",
        f"  console and dashboard: http://{settings.web_host}:{settings.web_port}/",
        f"  API: http://{settings.web_host}:{settings.web_port}/api/v1/openapi.json",
        f"  data: {env['HOTLINE_DATA_DIR']}",
    ]
    if "ivr" in roles:
        lines.append(
            f"  SIP: dial 1567 at {env.get('HOTLINE_SIP_REGISTRAR')} "
            "(REGISTER needs a SIP account: digest auth)"
        )
    if credentials is not None:
        # The passwords stay in the 0600 file: a banner ends up in terminals, logs and journals.
        lines.append(f"  first accounts (admin, supervisor, agent) and passwords: {credentials}")
    else:
        lines.append("  sign in with your account ('hotline1567 user add' makes more)")
    lines.append("  stop with Ctrl-C")
    print("\n".join(lines), file=sys.stderr, flush=True)


def _stop_on_signals() -> list[bool]:
    stop = [False]

    def handler(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        stop[0] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop
