"""ASR subcommands: ``asr-worker``, ``asr install-model``, ``asr eval`` and ``extract``."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from asr.fields import understanding_config_path
from asr.model_store import ModelError, check_layout, configured_model, install_model
from asr.recognizer import Recognizer, RecognizerError
from config.settings import Settings

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = sub.add_parser("asr-worker", help="decode recorded calls into draft transcripts")
    worker.set_defaults(handler=run_worker)

    asr = sub.add_parser("asr", help="speech model tools")
    asr_sub = asr.add_subparsers(dest="asr_command", required=True, metavar="ASR_COMMAND")
    install = asr_sub.add_parser(
        "install-model", help="install a Vosk model from a URL, zip/tar archive or folder"
    )
    install.add_argument("source", help="URL, local .zip/.tar.gz, or model folder")
    install.add_argument("--sha256", help="expected SHA-256 of the archive")
    install.add_argument(
        "--name", default="default", help="folder under models/ (default: default)"
    )
    install.set_defaults(handler=run_install_model)

    evaluate = asr_sub.add_parser(
        "eval", help="CER / WER / real-time factor over name.wav + name.txt pairs"
    )
    evaluate.add_argument("folder", type=Path)
    evaluate.add_argument("--model", type=Path, help="model folder (default: the configured one)")
    evaluate.add_argument(
        "--no-vad", action="store_true", help="decode the silence too (as before voice detection)"
    )
    evaluate.add_argument(
        "--search",
        help="Kaldi decoder options over the worker's, e.g. beam=9,max-active=2000 "
        "('model' = the model's own conf unchanged)",
    )
    evaluate.set_defaults(handler=run_eval)

    extract = sub.add_parser("extract", help="transcript text on stdin → draft fields as JSON")
    extract.add_argument("--jsonl", action="store_true", help="one transcript per line")
    extract.set_defaults(handler=run_extract)


def load_recognizer(
    model_dir: Path, *, vad: bool = True, recognizers: int = 0, search: str | None = None
) -> Recognizer:
    check_layout(model_dir)
    from asr.capacity import recognizers_for
    from asr.decoding import SEARCH, parse_options
    from asr.vosk_backend import VoskRecognizer

    size = recognizers_for(os.cpu_count() or 1, recognizers)
    options = dict(SEARCH)
    if search == "model":
        options = {}
    elif search:
        options.update(parse_options(search))
    return VoskRecognizer(model_dir, vad=vad, recognizers=size, search=options)


def run_worker(args: argparse.Namespace) -> int:
    from asr.worker import AsrWorker, WorkerConfig
    from ticketing.observability import role_observability
    from ticketing.runtime import configure_logging, running_services

    settings = Settings.from_env()
    configure_logging(settings)
    config = WorkerConfig.from_settings(settings)
    model_dir = configured_model(settings)
    recognizer = None
    if model_dir is None:
        log.warning("no speech model installed: drafts will be marked no_model (see README)")
    else:
        try:
            recognizer = load_recognizer(
                model_dir,
                vad=settings.asr_vad,
                recognizers=settings.asr_worker.recognizers,
                search=settings.asr_worker.decoder,
            )
        except (ModelError, RecognizerError) as exc:
            print(f"hotline1567 asr-worker: {exc}", file=sys.stderr)
            return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("asr worker %s: signal %d, stopping", config.consumer, signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    port, variable = settings.asr_metrics_port, "HOTLINE_ASR_METRICS_PORT"
    with (
        role_observability(settings, "asr-worker", port, variable),
        running_services(settings) as services,
    ):
        AsrWorker(services, recognizer, config).run(stop)
    return 0


def run_install_model(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        target = install_model(args.source, settings.models_dir, name=args.name, sha256=args.sha256)
    except ModelError as exc:
        print(f"hotline1567 asr install-model: {exc}", file=sys.stderr)
        return 1
    print(f"installed {target}")
    if args.name != "default" and settings.asr_model is None:
        print(f"use it with HOTLINE_ASR_MODEL={target}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from asr.evaluate import evaluate, format_report

    settings = Settings.from_env()
    model_dir = args.model or configured_model(settings)
    if model_dir is None:
        print("hotline1567 asr eval: no model: pass --model or install one", file=sys.stderr)
        return 2
    try:
        vad = settings.asr_vad and not args.no_vad
        recognizer = load_recognizer(model_dir, vad=vad, search=args.search)
        report = evaluate(recognizer, args.folder)
    except (ModelError, RecognizerError, FileNotFoundError, ValueError) as exc:
        print(f"hotline1567 asr eval: {exc}", file=sys.stderr)
        return 1
    print(format_report(report))
    return 0


def run_extract(args: argparse.Namespace) -> int:
    try:
        understanding = importlib.import_module("asr.understanding")
    except ImportError as exc:
        print(f"hotline1567 extract: asr.understanding is not available: {exc}", file=sys.stderr)
        return 2
    config_path = understanding_config_path(Settings.from_env().config_dir)
    code: int = understanding.run_extract_cli(
        sys.stdin, sys.stdout, jsonl=args.jsonl, config_path=config_path
    )
    return code
