"""SIP messages (RFC 3261) parsed once into typed objects that serialise back to their bytes.

``parse(data)`` splits a datagram into a ``SipRequest`` or ``SipResponse``: start line, header
lines in order (names as written, compact forms resolved for look-up), body. ``bytes(message)``
gives the datagram back (byte for byte for the usual ``Name: value`` form). Responses echo the
request's own Via, From, Call-ID, CSeq and Record-Route values as RFC 3261 §8.2.6 asks a UAS to;
pyVoIP's parser keeps only the first of repeated headers, so it is used for none of this.
"""

from __future__ import annotations

import re

COMPACT = {
    "i": "call-id",
    "f": "from",
    "t": "to",
    "v": "via",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
    "s": "subject",
}
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS"
USER_AGENT = "hotline1567-ivr"
_NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")
_LIST_HEADERS = {"via", "record-route", "route", "contact", "p-asserted-identity"}
_CANONICAL = {
    "via": "Via",
    "from": "From",
    "to": "To",
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "record-route": "Record-Route",
    "route": "Route",
    "contact": "Contact",
}


class SipSyntaxError(ValueError):
    """A SIP message or SDP body the node cannot use.

    ``partial`` is the message as far as it could be read (its headers are sound, something else
    is not, e.g. the Content-Length), so that a request can still be answered 400.
    """

    def __init__(self, text: str, partial: SipMessage | None = None) -> None:
        super().__init__(text)
        self.partial = partial


class SipMessage:
    """Header lines in order and the body; looked up by lower-case full name."""

    def __init__(self, headers: list[tuple[str, str]], body: bytes = b"") -> None:
        self.headers = headers  # (name as written, value)
        self.body = body
        self._index: dict[str, list[str]] = {}
        for name, value in headers:
            key = name.lower()
            self._index.setdefault(COMPACT.get(key, key), []).append(value)

    @property
    def start_line(self) -> str:
        raise NotImplementedError

    def get(self, name: str) -> str | None:
        """The first value of header ``name`` (lower-case full name), unsplit."""
        values = self._index.get(name)
        return values[0] if values else None

    def values(self, name: str) -> list[str]:
        """Every value of ``name``, comma-separated lists (Via, Route, Contact…) split, in order."""
        found = self._index.get(name, [])
        if name not in _LIST_HEADERS:
            return list(found)
        return [part for value in found for part in _split_commas(value)]

    def lines(self, name: str) -> list[tuple[str, str]]:
        """(canonical name, value) of every line of ``name``, unsplit, for echoing."""
        return [(_CANONICAL.get(name, name), value) for value in self._index.get(name, [])]

    @property
    def call_id(self) -> str:
        value = self.get("call-id")
        if not value:
            raise SipSyntaxError("message has no Call-ID")
        return value

    @property
    def cseq(self) -> tuple[int, str]:
        """(number, method) of the CSeq header."""
        parts = (self.get("cseq") or "").split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise SipSyntaxError(f"bad CSeq {self.get('cseq')!r}")
        return int(parts[0]), parts[1].upper()

    def __bytes__(self) -> bytes:
        lines = [self.start_line, *(f"{name}: {value}" for name, value in self.headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


class SipRequest(SipMessage):
    def __init__(
        self, method: str, uri: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> None:
        super().__init__(headers, body)
        self.method = method
        self.uri = uri

    @property
    def start_line(self) -> str:
        return f"{self.method} {self.uri} SIP/2.0"

    def __repr__(self) -> str:
        return f"<SipRequest {self.method} {self.uri}>"


class SipResponse(SipMessage):
    def __init__(
        self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> None:
        super().__init__(headers, body)
        self.status = status
        self.reason = reason

    @property
    def start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"

    def __repr__(self) -> str:
        return f"<SipResponse {self.status} {self.reason}>"


def parse(data: bytes) -> SipRequest | SipResponse:
    """One datagram -> a typed message; SipSyntaxError names what is wrong."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipSyntaxError("SIP headers are not UTF-8") from exc
    lines = text.replace("\r\n", "\n").split("\n")
    start = lines[0].strip()
    if not start:
        raise SipSyntaxError("empty start line")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation (RFC 3261 §7.3.1)
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or " " in name.strip():
            raise SipSyntaxError(f"malformed header line {line[:60]!r}")
        headers.append((name.strip(), value.strip()))
    message = _start(start, headers, body)
    length = message.get("content-length")
    if length is not None:
        # On UDP the datagram is the message: a length past its end is a broken message (§18.3).
        if not length.isdigit() or len(length) > 9:
            raise SipSyntaxError(f"bad Content-Length {length[:20]!r}", message)
        if int(length) > len(body):
            raise SipSyntaxError(
                f"Content-Length {int(length)} exceeds the body ({len(body)} bytes)", message
            )
        message.body = body[: int(length)]
    return message


def _start(start: str, headers: list[tuple[str, str]], body: bytes) -> SipRequest | SipResponse:
    if start.startswith("SIP/2.0 "):
        status, _, reason = start[8:].partition(" ")
        if len(status) != 3 or not status.isdigit():
            raise SipSyntaxError(f"bad status line {start[:80]!r}")
        return SipResponse(int(status), reason, headers, body)
    parts = start.split(" ")
    if len(parts) != 3 or parts[2] != "SIP/2.0" or not parts[0].isalpha():
        raise SipSyntaxError(f"bad request line {start[:80]!r}")
    return SipRequest(parts[0].upper(), parts[1], headers, body)


def build_response(
    request: SipRequest,
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    extra: list[tuple[str, str]] | None = None,
    body: str = "",
    content_type: str = "application/sdp",
) -> SipResponse:
    """A response echoing Via, From, To, Call-ID, CSeq (and Record-Route on 18x/2xx)."""
    for needed in ("via", "from", "to", "call-id", "cseq"):
        if request.get(needed) is None:
            raise SipSyntaxError(f"request has no {_CANONICAL[needed]} header")
    to_value = request.get("to") or ""
    if to_tag and tag_of(to_value) is None:
        to_value = f"{to_value};tag={to_tag}"
    headers = [
        *request.lines("via"),
        *request.lines("from"),
        ("To", to_value),
        *request.lines("call-id"),
        *request.lines("cseq"),
        *(request.lines("record-route") if 100 < status < 300 else []),
        *(extra or []),
        ("User-Agent", USER_AGENT),
    ]
    encoded = body.encode()
    if encoded:
        headers.append(("Content-Type", content_type))
    headers.append(("Content-Length", str(len(encoded))))
    return SipResponse(status, reason, headers, encoded)


def _split_commas(value: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in value:
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "<":
            depth += 1
        elif not quoted and char == ">":
            depth = max(depth - 1, 0)
        if char == "," and depth == 0 and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part]


def name_addr_uri(value: str) -> str:
    """The URI inside ``"Name" <sip:x@y>;tag=1`` or a bare ``sip:x@y;tag=1``."""
    start = value.find("<")
    if start >= 0:
        end = value.find(">", start)
        if end < 0:
            raise SipSyntaxError(f"unterminated <URI> in {value[:60]!r}")
        return value[start + 1 : end].strip()
    return value.split(";", 1)[0].strip()


def tag_of(value: str) -> str | None:
    """The ``tag`` parameter after the URI of a From/To value."""
    end = value.rfind(">")
    params = value[end + 1 :] if end >= 0 else value
    match = re.search(r";\s*tag=([^;\s]+)", params, re.IGNORECASE)
    return match.group(1) if match else None


def uri_user(uri: str) -> str | None:
    scheme, colon, rest = uri.partition(":")
    if not colon or scheme.lower() not in ("sip", "sips", "tel"):
        return None
    rest = rest.split(";", 1)[0].split("?", 1)[0]
    if scheme.lower() == "tel":
        return rest or None
    user, at, _ = rest.partition("@")
    return user if at and user else None


def uri_host_port(uri: str, default_port: int = 5060) -> tuple[str, int]:
    """Host and port of a sip: URI (``maddr``/transport parameters ignored)."""
    scheme, colon, rest = uri.partition(":")
    if not colon or scheme.lower() not in ("sip", "sips"):
        raise SipSyntaxError(f"not a sip: URI: {uri[:60]!r}")
    hostport = rest.split(";", 1)[0].split("?", 1)[0].rpartition("@")[2]
    if hostport.startswith("["):
        host, _, tail = hostport[1:].partition("]")
        port_text = tail.lstrip(":")
    else:
        host, _, port_text = hostport.partition(":")
    if not host:
        raise SipSyntaxError(f"no host in URI {uri[:60]!r}")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise SipSyntaxError(f"bad port in URI {uri[:60]!r}")
    return host, int(port_text)


def caller_number(p_asserted_identity: list[str], from_value: str | None) -> str | None:
    """The caller's number: the first usable P-Asserted-Identity, else the From user part.

    Visual separators (``-``, ``.``, spaces, parentheses) are dropped; anything that is not then a
    dialable number (``anonymous``, names, garbage) gives None rather than a wrong number.
    """
    candidates = [*p_asserted_identity, *([from_value] if from_value else [])]
    for value in candidates:
        try:
            user = uri_user(name_addr_uri(value))
        except SipSyntaxError:
            continue
        if user is None:
            continue
        number = re.sub(r"[-.() ]|%20", "", user)
        if _NUMBER.match(number):
            return number
    return None
