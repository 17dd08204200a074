"""HOTLINE_LOG_FORMAT=json: one JSON object a line, call id and ticket reference as fields."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest

from ticketing.logformat import TEXT_FORMAT, ContextFilter, JsonFormatter, log_context, log_handler


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("tests.ops.json")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def _entries(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_is_one_object_with_the_standard_fields(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.warning("ห้องน้ำ %s ชำรุด", "สาธารณะ")
    (entry,) = _entries(stream)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "tests.ops.json"
    assert entry["message"] == "ห้องน้ำ สาธารณะ ชำรุด"  # Thai kept readable, not \\u escapes
    assert str(entry["time"]).endswith("+00:00")
    assert "call_id" not in entry and "ticket_reference" not in entry
    assert "ห้องน้ำ" in stream.getvalue()


def test_call_id_and_reference_come_from_extra_or_the_context(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info("answered", extra={"call_id": "c-1"})
    with log_context(call_id="c-2", node="ivr-a:5062"):
        logger.info("draft made", extra={"ticket_reference": "6900001234"})
        with log_context(ticket_reference="6900005678"):
            logger.info("routed")
        logger.info("explicit wins", extra={"call_id": "c-3"})
    logger.info("after")
    first, second, third, fourth, fifth = _entries(stream)
    assert first["call_id"] == "c-1"
    assert (second["call_id"], second["ticket_reference"]) == ("c-2", "6900001234")
    assert second["node"] == "ivr-a:5062"
    assert (third["call_id"], third["ticket_reference"]) == ("c-2", "6900005678")
    assert fourth["call_id"] == "c-3"
    assert "call_id" not in fifth and "node" not in fifth


def test_the_context_belongs_to_its_thread(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    inside = threading.Event()
    release = threading.Event()

    def call() -> None:
        with log_context(call_id="in-thread"):
            inside.set()
            release.wait(10)
            logger.info("thread")

    worker = threading.Thread(target=call)
    worker.start()
    assert inside.wait(10)
    logger.info("main")
    release.set()
    worker.join(10)
    by_message = {entry["message"]: entry for entry in _entries(stream)}
    assert "call_id" not in by_message["main"]
    assert by_message["thread"]["call_id"] == "in-thread"


def test_exceptions_are_one_field(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise RuntimeError("disk full")
    except RuntimeError:
        logger.exception("recording failed")
    (entry,) = _entries(stream)
    assert "RuntimeError: disk full" in str(entry["exception"])
    assert len(stream.getvalue().splitlines()) == 1  # the traceback does not break the line


def test_unknown_context_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="phone"), log_context(phone="0812345678"):
        pass


def test_text_is_the_default_format() -> None:
    handler = log_handler("text")
    assert handler.formatter is not None and handler.formatter._fmt == TEXT_FORMAT
    assert isinstance(log_handler("json").formatter, JsonFormatter)
