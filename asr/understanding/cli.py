"""`hotline1567 extract`: transcript(s) on stdin, JSON on stdout (argparse wiring is elsewhere).

Single mode reads the whole of stdin as one transcript and prints one JSON object. JSON Lines mode
reads objects with a ``text`` field and prints one line per input line, in order, keeping ``id``;
a bad line prints ``{"error": ...}`` in its place so the output stays aligned with the input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

from asr.understanding.errors import UnderstandingConfigError
from asr.understanding.extract import Understanding

EXIT_OK = 0
EXIT_BAD_LINES = 1
EXIT_NO_INPUT = 2


def run_extract_cli(
    stdin: TextIO, stdout: TextIO, *, jsonl: bool, config_path: Path | None = None
) -> int:
    stderr = sys.stderr
    try:
        understanding = Understanding.from_file(config_path)
    except UnderstandingConfigError as exc:
        print(f"hotline1567 extract: {exc}", file=stderr)
        return EXIT_NO_INPUT
    raw = _read_all(stdin)
    if not raw.strip():
        print("hotline1567 extract: no input on stdin", file=stderr)
        return EXIT_NO_INPUT
    if jsonl:
        return _run_jsonl(understanding, raw, stdout, stderr)
    try:
        transcript = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"input is not UTF-8 (byte {exc.start})"
        print(f"hotline1567 extract: {message}", file=stderr)
        _write(stdout, {"error": message})
        return EXIT_BAD_LINES
    _write(stdout, _result(understanding, transcript))
    return EXIT_OK


def _read_all(stdin: TextIO) -> bytes:
    """Bytes, so that we decode strictly ourselves and can name the line that is not UTF-8."""
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:
        data: bytes = buffer.read()
        return data
    return stdin.read().encode("utf-8", errors="surrogateescape")


def _run_jsonl(understanding: Understanding, raw: bytes, stdout: TextIO, stderr: TextIO) -> int:
    failed = 0
    lines = raw.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    while lines and not lines[-1].strip():
        lines.pop()  # a trailing newline is not an empty record
    for number, line in enumerate(lines, start=1):
        try:
            record = _parse_line(line)
        except ValueError as exc:
            failed += 1
            print(f"hotline1567 extract: line {number}: {exc}", file=stderr)
            _write(stdout, {"error": f"line {number}: {exc}"})
            continue
        out = _result(understanding, record["text"])
        if "id" in record:
            out = {"id": record["id"], **out}
        _write(stdout, out)
    return EXIT_BAD_LINES if failed else EXIT_OK


def _parse_line(line: bytes) -> dict[str, Any]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 (byte {exc.start})") from exc
    if not text.strip():
        raise ValueError("empty line, expected a JSON object with a 'text' field")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object with a 'text' field")
    if not isinstance(record.get("text"), str):
        raise ValueError("missing 'text' (a string)")
    return record


def _result(understanding: Understanding, transcript: str) -> dict[str, Any]:
    return understanding.extract(transcript).to_json_dict()


def _write(stdout: TextIO, obj: dict[str, Any]) -> None:
    stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
