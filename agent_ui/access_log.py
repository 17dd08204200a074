"""Access-log lines without personal numbers: ``?phone=``, ``?citizen_id=`` and numbers inside
``?q=`` are masked before uvicorn's access logger writes the request line."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode

from ticketing.masking import NUMBER_KEYS, mask_digits, mask_text

ACCESS_LOGGER = "uvicorn.access"
BULLET_ESCAPED = "%E2%80%A2"


def mask_query(target: str) -> str:
    path, sep, query = target.partition("?")
    if not sep or not query:
        return target
    pairs = parse_qsl(query, keep_blank_values=True)
    masked = [
        (key, (mask_digits(value) if key in NUMBER_KEYS else mask_text(value)) or "")
        for key, value in pairs
    ]
    if masked == pairs:
        return target
    return f"{path}?{urlencode(masked).replace(BULLET_ESCAPED, '•')}"


class MaskPersonalNumbers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn: (client address, method, path with query, HTTP version, status code)
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], mask_query(args[2]), *args[3:])
        return True


def install() -> None:
    """Adds the filter to uvicorn's access logger once per process."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, MaskPersonalNumbers) for f in logger.filters):
        logger.addFilter(MaskPersonalNumbers())
