"""SDP (RFC 4566) offer parsing and the node's answer: one audio stream, G.711 and RFC 4733."""

from __future__ import annotations

from dataclasses import dataclass

from ivr.sip.message import SipSyntaxError

_STATIC = {0: "PCMU", 8: "PCMA", 18: "G729", 3: "GSM", 9: "G722"}


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


def parse_sdp(body: bytes) -> SdpOffer:
    """The first audio stream of an SDP offer, with session- or media-level c=."""
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
