"""Open311 responses in JSON or XML, shaped like the GeoReport v2 specification's examples,
and its error format (``errors`` with ``code`` and ``description``)."""

from __future__ import annotations

import json
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from starlette.responses import Response

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(parent: Element, key: str, value: Any) -> None:
    node = SubElement(parent, key)
    if isinstance(value, list):
        item = {"attributes": "attribute", "values": "value"}.get(key, key.rstrip("s"))
        for entry in value:
            child = SubElement(node, item)
            for k, v in entry.items():
                _fill(child, k, v)
    else:
        node.text = _text(value)


def xml_document(root: str, item: str | None, payload: Any) -> bytes:
    top = Element(root)
    entries = payload if item is not None else [payload]
    for entry in entries:
        parent = SubElement(top, item) if item is not None else top
        for key, value in entry.items():
            _fill(parent, key, value)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(top, encoding="unicode").encode()


def respond(fmt: str, payload: Any, root: str, item: str | None, status: int = 200) -> Response:
    if fmt == "xml":
        return Response(xml_document(root, item, payload), status, media_type=XML_TYPE)
    body = json.dumps(payload, ensure_ascii=False).encode()
    return Response(body, status, media_type=JSON_TYPE)


def error_response(fmt: str, status: int, description: str) -> Response:
    errors = [{"code": status, "description": description}]
    return respond(fmt, errors, "errors", "error", status)
