"""``hotline1567 open311 key add NAME | list | revoke KEY-OR-PREFIX``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from config.settings import Settings
from ticketing.db import make_engine, make_sessionmaker
from ticketing.errors import DomainError
from ticketing.open311_keys import Open311Keys


def register(sub: Any) -> None:
    open311 = sub.add_parser("open311", help="Open311 GeoReport v2 clients")
    what = open311.add_subparsers(dest="open311_command", required=True, metavar="WHAT")
    key = what.add_parser("key", help="API keys of Open311 clients")
    action = key.add_subparsers(dest="key_command", required=True, metavar="ACTION")
    add = action.add_parser("add", help="a new key for a client; prints it alone on stdout")
    add.add_argument("name")
    add.set_defaults(handler=key_add)
    action.add_parser("list", help="list keys (name, prefix, state)").set_defaults(handler=key_list)
    revoke = action.add_parser("revoke", help="revoke a key (the key or its prefix)")
    revoke.add_argument("key")
    revoke.set_defaults(handler=key_revoke)


def _keys() -> Open311Keys:
    settings = Settings.from_env()
    return Open311Keys(make_sessionmaker(make_engine(settings.effective_database_url)))


def key_add(args: argparse.Namespace) -> int:
    try:
        key = _keys().add(args.name)
    except DomainError as exc:
        print(f"hotline1567: {exc}", file=sys.stderr)
        return 1
    print(key)
    return 0


def key_list(args: argparse.Namespace) -> int:
    for key in _keys().list():
        state = f"revoked {key['revoked_at']}" if key["revoked_at"] else "active"
        print(f"{key['prefix']}\t{key['name']}\t{state}\tcreated {key['created_at']}")
    return 0


def key_revoke(args: argparse.Namespace) -> int:
    count = _keys().revoke(args.key)
    if count == 0:
        print("hotline1567: no such active key", file=sys.stderr)
        return 1
    print(f"{count} key(s) revoked", file=sys.stderr)
    return 0
