"""``hotline1567 ivr`` (run a node), ``hotline1567 prompts build|list`` and
``hotline1567 sip-account set|disable|list`` (who may REGISTER to Kamailio)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from config.settings import Settings
from ivr.prompts.build import PromptBuildError, build_prompts
from ivr.prompts.manifest import ManifestError, load_manifest, manifest_path
from ticketing.db import make_engine, make_sessionmaker
from ticketing.errors import DomainError
from ticketing.observability import role_observability
from ticketing.runtime import configure_logging
from ticketing.sip_accounts import SIP_REALM, SipAccountService


def register(sub: Any) -> None:
    node = sub.add_parser("ivr", help="run an IVR node: register, answer calls")
    node.set_defaults(handler=_run_node)

    prompts = sub.add_parser("prompts", help="the IVR's Thai prompt set")
    actions = prompts.add_subparsers(dest="prompts_command", required=True, metavar="ACTION")
    build = actions.add_parser(
        "build", help="render missing prompts with espeak-ng as 8 kHz 16-bit mono WAV"
    )
    build.add_argument(
        "--force", action="store_true", help="re-render files that exist (studio recordings too)"
    )
    build.add_argument("--dir", type=Path, help="output directory (default: the prompts dir)")
    build.set_defaults(handler=_build)
    listing = actions.add_parser("list", help="prompt ids, files and whether each file exists")
    listing.add_argument("--dir", type=Path, help="prompts directory (default: the prompts dir)")
    listing.set_defaults(handler=_list)

    sip = sub.add_parser("sip-account", help="SIP accounts that may REGISTER to Kamailio")
    sip_actions = sip.add_subparsers(dest="sip_command", required=True, metavar="ACTION")
    add = sip_actions.add_parser("set", help="create or change an account; password from stdin")
    add.add_argument("name")
    add.add_argument("--kind", choices=("ivr", "agent"), default="agent")
    add.set_defaults(handler=_sip_set)
    disable = sip_actions.add_parser("disable", help="refuse the account's REGISTERs")
    disable.add_argument("name")
    disable.set_defaults(handler=_sip_disable)
    sip_list = sip_actions.add_parser("list", help="active account names")
    sip_list.set_defaults(handler=_sip_list)


def _run_node(args: argparse.Namespace) -> int:
    from ivr.node import run_node

    settings = Settings.from_env()
    configure_logging(settings)
    port, variable = settings.ivr_metrics_port, "HOTLINE_IVR_METRICS_PORT"
    with role_observability(settings, "ivr", port, variable):
        return run_node(settings)


def _build(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    out_dir = args.dir or settings.prompts_dir
    started = time.monotonic()
    try:
        manifest = load_manifest(manifest_path(settings.config_dir))
        report = build_prompts(manifest, out_dir, force=args.force)
    except (ManifestError, PromptBuildError) as exc:
        print(f"hotline1567 prompts build: {exc}", file=sys.stderr)
        return 2
    print(
        f"{len(report.rendered)} rendered, {len(report.kept)} kept (existing files) in {out_dir} "
        f"({time.monotonic() - started:.1f} s)"
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    directory = args.dir or settings.prompts_dir
    try:
        manifest = load_manifest(manifest_path(settings.config_dir))
    except ManifestError as exc:
        print(f"hotline1567 prompts list: {exc}", file=sys.stderr)
        return 2
    missing = 0
    for entry in manifest.entries.values():
        present = (directory / entry.file).exists()
        missing += not present
        print(f"{entry.id}\t{entry.file}\t{'ok' if present else 'MISSING'}\t{entry.text}")
    print(f"{len(manifest.entries)} prompts, {missing} missing in {directory}", file=sys.stderr)
    return 1 if missing else 0


def _accounts() -> SipAccountService:
    settings = Settings.from_env()
    return SipAccountService(make_sessionmaker(make_engine(settings.effective_database_url)))


def _sip_set(args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        _accounts().set_password(args.name, password, kind=args.kind)
    except DomainError as exc:
        print(f"hotline1567 sip-account: {exc}", file=sys.stderr)
        return 1
    print(f"SIP account {args.name} set (digest HA1 stored, realm {SIP_REALM})", file=sys.stderr)
    return 0


def _sip_disable(args: argparse.Namespace) -> int:
    if not _accounts().disable(args.name):
        print(f"hotline1567 sip-account: no account {args.name!r}", file=sys.stderr)
        return 1
    return 0


def _sip_list(args: argparse.Namespace) -> int:
    for name in _accounts().usernames():
        print(name)
    return 0
