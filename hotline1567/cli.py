"""The ``hotline1567`` command: each package registers its own subcommands here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agent_ui import cli as agent_ui_cli
from asr import cli as asr_cli
from config.settings import SettingsError
from hotline1567 import run
from ivr import cli as ivr_cli
from ticketing import cli as ticketing_cli
from ticketing import open311_cli, scheduler_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline1567",
        description="Hotline 1567: IVR, speech-to-text drafts, ticket tracking and console.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run.register(sub)
    ticketing_cli.register(sub)
    agent_ui_cli.register(sub)
    ivr_cli.register(sub)
    asr_cli.register(sub)
    scheduler_cli.register(sub)
    open311_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except SettingsError as exc:
        print(f"hotline1567: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
