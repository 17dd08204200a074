"""``hotline1567 ivr`` (run a node) and ``hotline1567 prompts build|list``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from config.settings import Settings
from ivr.prompts.build import PromptBuildError, build_prompts
from ivr.prompts.manifest import ManifestError, load_manifest, manifest_path
from ticketing.observability import role_observability
from ticketing.runtime import configure_logging


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
