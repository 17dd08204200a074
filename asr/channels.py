"""The two sides of a call-taker's conversation (issue 13): which text the draft's fields come from.

The caller's words fill the draft as on an IVR-only call. The call-taker's side adds what a
call-taker does on every call: reading a number back to the caller ("เบอร์ ศูนย์ แปด ...").
A number read back fills the draft's phone or citizen ID only where the caller's side gave
none (the caller's own words come first, and a number with a digit missing is never filled
by either side: ``asr.understanding`` leaves it empty). Each side is decoded as its own job,
in any order; whichever finishes second sees both texts.
"""

from __future__ import annotations

from asr.fields import DraftFields, FieldExtractor

CONVERSATION = ("caller", "agent")
READ_BACK = ("caller_phone", "citizen_id")  # what a call-taker reads back, as ticket fields


def read_back_fields(
    extractor: FieldExtractor,
    caller: DraftFields,
    agent_text: str,
    *,
    asr_confidence: float,
    caller_phone: str | None,
    reference: str,
) -> DraftFields:
    """The numbers on the call-taker's side that the caller's side did not give."""
    if not agent_text.strip():
        return DraftFields()
    said = extractor.extract(
        agent_text, asr_confidence=asr_confidence, caller_phone=caller_phone, reference=reference
    )
    values = {
        k: v for k, v in said.values.items() if k in READ_BACK and caller.values.get(k) is None
    }
    return DraftFields(values, {k: said.confidence.get(k, 0.0) for k in values})


def merged(caller: DraftFields, extra: DraftFields) -> DraftFields:
    return DraftFields({**caller.values, **extra.values}, {**caller.confidence, **extra.confidence})
