"""Subcommands: ``db upgrade``, ``user add|list|set|sip-password``, ``token create|revoke``."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from typing import Any

from config.catalog import CatalogError, load_catalog
from config.settings import Settings
from ticketing.agency_work import AgencyWork
from ticketing.calls import CallService
from ticketing.container import sync_agencies
from ticketing.db import make_engine, make_sessionmaker, upgrade_schema
from ticketing.errors import DomainError
from ticketing.models import Role
from ticketing.sip_accounts import SipAccountService
from ticketing.tickets import TicketService
from ticketing.users import UserService


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="migrate the database to the newest schema")
    upgrade.set_defaults(handler=db_upgrade)

    user = sub.add_parser("user", help="manage users")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_sub.add_parser("add", help="add a user; the password is read from stdin")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=Role.ALL)
    add.add_argument("--display-name", default="")
    add.add_argument(
        "--province",
        action="append",
        default=[],
        help="limit an agent to a province code (repeatable)",
    )
    add.add_argument("--agency", default=None, help="role agency: the agency's code")
    add.set_defaults(handler=user_add)
    listing = user_sub.add_parser("list", help="list users")
    listing.set_defaults(handler=user_list)
    disable = user_sub.add_parser("disable", help="disable a user")
    disable.add_argument("name")
    disable.set_defaults(handler=user_disable)
    sip = user_sub.add_parser(
        "sip-password",
        help="set the SIP password of a user's phone (SIP user = the user name; stored as HA1); "
        "read from stdin",
    )
    sip.add_argument("name")
    sip.add_argument("--generate", action="store_true", help="generate one and print it")
    sip.set_defaults(handler=user_sip_password)

    recordings = sub.add_parser("recordings", help="call recordings")
    rec_sub = recordings.add_subparsers(dest="recordings_command", required=True, metavar="ACTION")
    purge = rec_sub.add_parser("purge", help="delete audio past its retention date (PDPA)")
    purge.set_defaults(handler=recordings_purge)

    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser("create", help="create a token; prints it alone on stdout")
    create.add_argument("--user", required=True)
    create.set_defaults(handler=token_create)
    revoke = token_sub.add_parser("revoke", help="revoke a token (the token or its prefix)")
    revoke.add_argument("token")
    revoke.set_defaults(handler=token_revoke)


def _fail(message: str, code: int = 1) -> int:
    print(f"hotline1567: {message}", file=sys.stderr)
    return code


def _users(settings: Settings) -> UserService:
    return UserService(make_sessionmaker(make_engine(settings.effective_database_url)))


def assign_agency(settings: Settings, username: str, agency: str) -> None:
    sessions = make_sessionmaker(make_engine(settings.effective_database_url))
    AgencyWork(sessions, load_catalog(settings.config_dir)).assign_user(username, agency)


def db_upgrade(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        catalog = load_catalog(settings.config_dir)
    except CatalogError as exc:
        return _fail(f"configuration error: {exc}", 2)
    upgrade_schema(settings.effective_database_url)
    count = sync_agencies(make_sessionmaker(make_engine(settings.effective_database_url)), catalog)
    print(f"database is at the newest schema; {count} agencies loaded", file=sys.stderr)
    return 0


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise DomainError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def user_add(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    agency = getattr(args, "agency", None)
    if (args.role == Role.AGENCY) != bool(agency):
        return _fail("--agency CODE goes with --role agency (and only with it)")
    try:
        if agency is not None and agency not in load_catalog(settings.config_dir).agencies:
            return _fail(f"unknown agency {agency!r} (see agencies.toml)")
        password = _read_password()
        user = _users(settings).add_user(
            args.name, password, args.role, display_name=args.display_name, provinces=args.province
        )
        if agency is not None:
            assign_agency(settings, args.name, agency)
    except DomainError as exc:
        return _fail(str(exc))
    print(f"user {user['username']} added with role {user['role']}", file=sys.stderr)
    return 0


def user_list(args: argparse.Namespace) -> int:
    for user in _users(Settings.from_env()).list_users():
        state = "active" if user["active"] else "disabled"
        provinces = ",".join(user["provinces"]) or "all"
        line = f"{user['username']}\t{user['role']}\t{state}\tprovinces={provinces}"
        if user.get("agency_code"):
            line += f"\tagency={user['agency_code']}"
        print(line)
    return 0


def user_disable(args: argparse.Namespace) -> int:
    try:
        _users(Settings.from_env()).update_user(args.name, active=False)
    except DomainError as exc:
        return _fail(str(exc))
    return 0


def token_create(args: argparse.Namespace) -> int:
    try:
        token = _users(Settings.from_env()).create_token(args.user)
    except DomainError as exc:
        return _fail(str(exc))
    print(token)
    return 0


def token_revoke(args: argparse.Namespace) -> int:
    count = _users(Settings.from_env()).revoke_token(args.token)
    if count == 0:
        return _fail("no such active token")
    print(f"{count} token(s) revoked", file=sys.stderr)
    return 0


def recordings_purge(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    sessions = make_sessionmaker(make_engine(settings.effective_database_url))
    tickets = TicketService(sessions, load_catalog(settings.config_dir))
    count = CallService(sessions, tickets).purge_expired_recordings(settings.data_dir)
    print(f"{count} recording(s) purged", file=sys.stderr)
    return 0


def user_sip_password(args: argparse.Namespace) -> int:
    """The phone registers to Kamailio as the user's name; only the digest HA1 is stored."""
    settings = Settings.from_env()
    engine = make_engine(settings.effective_database_url)
    try:  # one engine, disposed: the command also runs inside other processes (tests, run)
        sessions = make_sessionmaker(engine)
        users = {u["username"]: u for u in UserService(sessions).list_users()}
        user = users.get(args.name)
        if user is None or not user["active"]:
            return _fail(f"no active user {args.name!r} (add it with 'hotline1567 user add')")
        password = secrets.token_urlsafe(18) if args.generate else _read_password()
        SipAccountService(sessions).set_password(args.name, password, kind="agent")
    except DomainError as exc:
        return _fail(str(exc))
    finally:
        engine.dispose()
    if args.generate:
        print(password)
    print(f"SIP password of {args.name} set (SIP user {args.name})", file=sys.stderr)
    return 0
