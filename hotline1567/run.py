"""``hotline1567 run``: the whole system on one machine.

Starts (or reuses) the embedded Redis and Kamailio when no external ones are configured, brings the
database schema up to date, renders missing prompts, creates the first accounts, then runs the
``web``, ``ivr`` and ``asr-worker`` roles as child processes — the same processes production runs
as separate services — restarting any that dies, and stops everything on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from config.catalog import CatalogError, load_catalog
from config.settings import Settings
from hotline1567.first_run import ensure_first_users
from ticketing.container import sync_agencies
from ticketing.db import make_engine, make_sessionmaker, upgrade_schema
from ticketing.embedded_redis import EmbeddedRedis, EmbeddedRedisError
from ticketing.runtime import configure_logging
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


@dataclass
class Child:
    role: str
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    backoff: float = 1.0
    next_start: float = field(default=0.0)


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
    with ExitStack() as stack:
        env = dict(os.environ)
        env["HOTLINE_DATA_DIR"] = str(settings.data_dir.resolve())
        if settings.redis_url is None:
            try:
                env["HOTLINE_REDIS_URL"] = stack.enter_context(EmbeddedRedis(settings.data_dir)).url
            except EmbeddedRedisError as exc:
                print(f"hotline1567: {exc}", file=sys.stderr)
                return 2
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

                host, port = stack.enter_context(EmbeddedKamailio(settings)).registrar
                env["HOTLINE_SIP_REGISTRAR"] = f"{host}:{port}"
        _print_banner(settings, env, credentials, roles)
        return _supervise([Child(role) for role in roles], env, stop)


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
            f"  SIP: register a softphone to {env.get('HOTLINE_SIP_REGISTRAR')} "
            "(any user name) and dial 1567"
        )
    if credentials is not None:
        lines.append(f"  first accounts (admin, supervisor, agent) and passwords: {credentials}")
        lines.append(f"    {credentials.read_text(encoding='utf-8').splitlines()[1]}")
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


def _supervise(children: list[Child], env: dict[str, str], stop: list[bool]) -> int:
    try:
        while not stop[0]:
            now = time.monotonic()
            for child in children:
                _keep_running(child, env, now)
            time.sleep(0.2)
    finally:
        _stop_children(children)
    return 0


def _keep_running(child: Child, env: dict[str, str], now: float) -> None:
    if child.process is not None:
        code = child.process.poll()
        if code is None:
            if now - child.started_at > 60:
                child.backoff = 1.0  # it stayed up: a later crash restarts quickly again
            return
        log.warning("%s exited with %s; restarting in %.0f s", child.role, code, child.backoff)
        child.process = None
        child.next_start = now + child.backoff
        child.backoff = min(child.backoff * 2, 30.0)
        child.restarts += 1
        return
    if now >= child.next_start:
        child.process = subprocess.Popen([sys.executable, "-m", "hotline1567", child.role], env=env)
        child.started_at = now
        log.info("%s started (pid %d)", child.role, child.process.pid)


def _stop_children(children: list[Child]) -> None:
    running = [c.process for c in children if c.process is not None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
