"""HTTP byte ranges (RFC 9110 §14) for the recording player: one range per request."""

from __future__ import annotations


class UnsatisfiableRange(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` inclusive for a ``bytes=`` header, None to send the whole file.

    Several ranges are answered with the first one only (browsers' players ask for one)."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec:
        return None
    first_spec = spec.split(",")[0].strip()
    start_text, dash, end_text = first_spec.partition("-")
    if not dash:
        return None
    try:
        if start_text == "":
            suffix = int(end_text)
            if suffix <= 0:
                raise UnsatisfiableRange(first_spec)
            return max(size - suffix, 0), size - 1
        start = int(start_text)
        end = int(end_text) if end_text else size - 1
    except ValueError:
        return None
    if start < 0 or start >= size or end < start:
        raise UnsatisfiableRange(first_spec)
    return start, min(end, size - 1)
