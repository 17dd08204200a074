"""The call flow's states (the IVR's own and the queue's, :mod:`ivr.flow.queue_states`)."""

from __future__ import annotations

import enum


class CallState(enum.Enum):
    IDLE = "idle"
    MAIN_MENU = "main_menu"
    COMPLAINT_INTRO = "complaint_intro"
    RECORDING = "recording"
    REFERENCE_READBACK = "reference_readback"
    SURVEY = "survey"
    STATUS_ENTRY = "status_entry"
    STATUS_LOOKUP = "status_lookup"
    CALLBACK_INTRO = "callback_intro"
    RECORDING_FAILED = "recording_failed"
    # the queue: waiting for a call-taker
    QUEUE_INTRO = "queue_intro"  # the hold prompt (or the urgent notice) plays
    QUEUE_WAITING = "queue_waiting"  # position, estimate, comfort prompts, hold music
    QUEUE_OFFER = "queue_offer"  # 1 keep waiting / 2 callback / 3 record
    CALLBACK_CONFIRM = "callback_confirm"  # the number read back: 1 yes / 2 another number
    CALLBACK_NUMBER = "callback_number"  # keying another number, then #
    CONNECTED = "connected"  # bridged to a call-taker
    GOODBYE = "goodbye"
    ENDED = "ended"


QUEUE_STATES = frozenset(
    {
        CallState.QUEUE_INTRO,
        CallState.QUEUE_WAITING,
        CallState.QUEUE_OFFER,
        CallState.CALLBACK_CONFIRM,
        CallState.CALLBACK_NUMBER,
    }
)
