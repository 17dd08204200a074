"""Pure SIP text helpers: raw header access, responses and in-dialog requests, caller number, SDP.

pyVoIP's parser keeps only the first of repeated headers and re-serialises Via badly, so the adapter
echoes the request's own header lines (Via, From, Call-ID, CSeq, Record-Route) from the raw bytes,
the way RFC 3261 §8.2.6 asks a UAS to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
_USER_AGENT = "hotline1567-ivr"
_NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")


class SipSyntaxError(ValueError):
    """A SIP message or SDP body the adapter cannot use."""


def split_message(raw: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """Start line, (lower-case full name, value) header pairs in order, body."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
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
        key = name.strip().lower()
        headers.append((COMPACT.get(key, key), value.strip()))
    return start, headers, body


def header_values(raw: bytes, name: str) -> list[str]:
    """Every value of header ``name`` (comma-separated lists split), in order."""
    _, headers, _ = split_message(raw)
    wanted = name.lower()
    values: list[str] = []
    for key, value in headers:
        if key == wanted:
            values.extend(_split_commas(value) if wanted in _LIST_HEADERS else [value])
    return values


def header_lines(raw: bytes, name: str) -> list[str]:
    """The raw header lines (``Name: value``) of ``name``, unsplit, for echoing in a response."""
    _, headers, _ = split_message(raw)
    wanted = name.lower()
    canonical = _CANONICAL.get(wanted, name)
    return [f"{canonical}: {value}" for key, value in headers if key == wanted]


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


def build_response(
    request: bytes,
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    extra: list[str] | None = None,
    body: str = "",
    content_type: str = "application/sdp",
) -> bytes:
    """A response echoing Via, From, To, Call-ID, CSeq (and Record-Route on 18x/2xx)."""
    _, headers, _ = split_message(request)
    lines = [f"SIP/2.0 {status} {reason}"]
    to_seen = False
    for key, value in headers:
        if key in ("via", "from", "call-id", "cseq"):
            lines.append(f"{_CANONICAL[key]}: {value}")
        elif key == "record-route" and 100 < status < 300:
            lines.append(f"Record-Route: {value}")
        elif key == "to" and not to_seen:
            to_seen = True
            if to_tag and tag_of(value) is None:
                value = f"{value};tag={to_tag}"
            lines.append(f"To: {value}")
    for needed in ("via", "from", "to", "call-id", "cseq"):
        if not any(key == needed for key, _ in headers):
            raise SipSyntaxError(f"request has no {_CANONICAL[needed]} header")
    lines.extend(extra or [])
    lines.append(f"User-Agent: {_USER_AGENT}")
    if body:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


@dataclass(frozen=True)
class Dialog:
    """What the UAS needs to send in-dialog requests (BYE) after answering an INVITE."""

    call_id: str
    local_tag: str
    local_uri: str  # the To value of the INVITE, without tag
    remote: str  # the From value of the INVITE, with its tag
    remote_target: str  # Contact URI of the caller
    route_set: list[str] = field(default_factory=list)  # Record-Route values, in order (UAS)

    def next_hop(self) -> tuple[str, int]:
        """The first Route if any (loose routing through the proxy), else the caller's Contact."""
        target = name_addr_uri(self.route_set[0]) if self.route_set else self.remote_target
        return uri_host_port(target)


def dialog_from_invite(invite: bytes, local_tag: str) -> Dialog:
    _, headers, _ = split_message(invite)
    values: dict[str, str] = {}
    for key, value in headers:
        values.setdefault(key, value)
    for needed in ("call-id", "from", "to", "contact"):
        if needed not in values:
            raise SipSyntaxError(f"INVITE has no {needed} header")
    to_value = re.sub(r";\s*tag=[^;\s]+", "", values["to"], flags=re.IGNORECASE)
    contacts = header_values(invite, "contact")
    return Dialog(
        call_id=values["call-id"],
        local_tag=local_tag,
        local_uri=to_value,
        remote=values["from"],
        remote_target=name_addr_uri(contacts[0]),
        route_set=header_values(invite, "record-route"),
    )


def build_bye(dialog: Dialog, cseq: int, via_host: str, via_port: int, branch: str) -> bytes:
    lines = [
        f"BYE {dialog.remote_target} SIP/2.0",
        f"Via: SIP/2.0/UDP {via_host}:{via_port};branch={branch};rport",
        "Max-Forwards: 70",
        *[f"Route: {route}" for route in dialog.route_set],
        f"From: {dialog.local_uri};tag={dialog.local_tag}",
        f"To: {dialog.remote}",
        f"Call-ID: {dialog.call_id}",
        f"CSeq: {cseq} BYE",
        f"User-Agent: {_USER_AGENT}",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass(frozen=True)
class SdpOffer:
    address: str
    port: int
    payload_types: dict[int, str]  # payload type -> encoding name upper-case ("PCMU", ...)

    def first_of(self, names: tuple[str, ...]) -> int | None:
        """The offer's first payload type (in the caller's order of preference) among ``names``."""
        for payload_type, name in self.payload_types.items():
            if name in names:
                return payload_type
        return None


_STATIC = {0: "PCMU", 8: "PCMA", 18: "G729", 3: "GSM", 9: "G722"}


def parse_sdp(body: bytes) -> SdpOffer:
    """The first audio stream of an SDP offer (RFC 4566), with session- or media-level c=."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipSyntaxError("SDP is not UTF-8") from exc
    address: str | None = None
    media_address: str | None = None
    port: int | None = None
    order: list[int] = []
    names: dict[int, str] = {}
    in_audio = False
    for line in text.replace("\r\n", "\n").split("\n"):
        kind, eq, value = line.strip().partition("=")
        if not eq:
            continue
        if kind == "m":
            if port is not None:
                break  # only the first audio stream is used
            fields = value.split()
            in_audio = len(fields) >= 4 and fields[0] == "audio"
            if in_audio:
                if not fields[1].isdigit() or not 0 < int(fields[1]) < 65536:
                    raise SipSyntaxError(f"bad SDP media port {fields[1]!r}")
                port = int(fields[1])
                order = [int(pt) for pt in fields[3:] if pt.isdigit()]
        elif kind == "c":
            fields = value.split()
            if len(fields) != 3 or fields[0] != "IN":
                raise SipSyntaxError(f"bad SDP connection line {value!r}")
            if in_audio:
                media_address = fields[2].split("/")[0]
            elif port is None:
                address = fields[2].split("/")[0]
        elif kind == "a" and in_audio and value.startswith("rtpmap:"):
            number, _, encoding = value[7:].partition(" ")
            if number.isdigit():
                names[int(number)] = encoding.split("/")[0].strip().upper()
    if port is None:
        raise SipSyntaxError("SDP has no audio stream")
    final = media_address or address
    if not final:
        raise SipSyntaxError("SDP has no connection address")
    return SdpOffer(final, port, {pt: names.get(pt, _STATIC.get(pt, "")) for pt in order})


def build_sdp(
    session_id: int, address: str, port: int, payload_type: int, event_payload_type: int | None
) -> str:
    codec = {0: "PCMU", 8: "PCMA"}[payload_type]
    formats = f"{payload_type}" + (
        f" {event_payload_type}" if event_payload_type is not None else ""
    )
    lines = [
        "v=0",
        f"o=hotline1567 {session_id} {session_id} IN IP4 {address}",
        "s=hotline1567",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {formats}",
        f"a=rtpmap:{payload_type} {codec}/8000",
    ]
    if event_payload_type is not None:
        lines += [
            f"a=rtpmap:{event_payload_type} telephone-event/8000",
            f"a=fmtp:{event_payload_type} 0-15",
        ]
    lines += ["a=ptime:20", "a=sendrecv"]
    return "\r\n".join(lines) + "\r\n"
