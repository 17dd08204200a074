"""The bounded recognizer pool and streams that share it (fake engine: the seam is the pool)."""

from __future__ import annotations

import json
import threading

import pytest

from asr.recognizer_pool import FINISHING, LIVE, RECORDED, RecognizerPool
from asr.resample import Resampler
from asr.vosk_backend import VoskStream


class Counter:
    def __init__(self) -> None:
        self.made = 0

    def __call__(self) -> int:
        self.made += 1
        return self.made


def test_recognizers_are_made_up_to_the_size_then_requests_wait() -> None:
    make = Counter()
    pool = RecognizerPool(make, size=2)
    a, b, c = pool.request(), pool.request(), pool.request()
    assert a.granted and b.granted and not c.granted
    assert make.made == 2 and pool.waiting == 1
    assert a.lease is not None
    pool.release(a.lease)
    assert c.granted and c.lease is a.lease  # handed straight over: nobody overtakes
    assert make.made == 2 and pool.idle == 0


def test_live_calls_are_served_before_recorded_jobs_then_in_order() -> None:
    pool = RecognizerPool(Counter(), size=1)
    first = pool.request(LIVE)
    recorded = pool.request(RECORDED)
    live1 = pool.request(LIVE)
    live2 = pool.request(LIVE)
    order = []
    for _ in range(3):
        holder = next(t for t in (first, recorded, live1, live2) if t.lease is not None)
        lease = holder.lease
        assert lease is not None
        holder.lease = None
        pool.release(lease)
        order.append(next(t for t in (recorded, live1, live2) if t.lease is not None))
        if order[-1] is recorded:
            break
    assert order == [live1, live2, recorded]


def test_a_newcomer_does_not_overtake_a_waiter() -> None:
    pool = RecognizerPool(Counter(), size=1)
    held = pool.request()
    waiter = pool.request()
    assert held.lease is not None
    pool.release(held.lease)
    late = pool.request()
    assert waiter.granted and not late.granted


def test_a_cancelled_request_leaves_the_queue_and_a_granted_one_gives_back() -> None:
    pool = RecognizerPool(Counter(), size=1)
    held = pool.request()
    waiter = pool.request()
    pool.cancel(waiter)
    assert pool.waiting == 0
    pool.cancel(held)  # granted: its recognizer goes back
    assert pool.idle == 1 and pool.leased == 0


def test_acquire_waits_for_a_release_from_another_thread() -> None:
    pool = RecognizerPool(Counter(), size=1)
    held = pool.acquire()
    got = []
    thread = threading.Thread(target=lambda: got.append(pool.acquire(timeout=5)))
    thread.start()
    while pool.waiting == 0:
        thread.join(0.01)
    pool.release(held)
    thread.join(5)
    assert got == [held]
    with pytest.raises(TimeoutError):
        pool.acquire(timeout=0.05)


def test_a_recognizer_that_decoded_enough_is_retired_for_a_fresh_one() -> None:
    make = Counter()
    pool = RecognizerPool(make, size=1, recycle_seconds=10)
    lease = pool.acquire()
    lease.fed_seconds = 11
    waiter = pool.request()
    pool.release(lease)
    assert waiter.lease is not None and waiter.lease.kaldi == 2
    assert pool.alive == 1 and make.made == 2


def test_a_retired_recognizer_is_dropped_before_the_memory_is_handed_back() -> None:
    seen: list[object] = []
    make = Counter()
    pool = RecognizerPool(make, size=1, recycle_seconds=10)
    lease = pool.acquire()
    pool._retired = lambda: seen.append(lease.kaldi)  # what is still referenced at the trim
    lease.fed_seconds = 11
    pool.release(lease)  # nobody waits: retired, none alive
    assert seen == [None] and pool.retired == 1 and pool.alive == 0 and pool.idle == 0
    again = pool.acquire()
    assert again.kaldi == 2 and pool.retired == 1


class Kaldi:
    """Ends a sentence every 10 blocks; words say which recognizer and block."""

    def __init__(self, name: str) -> None:
        self.name, self.blocks, self.words = name, 0, 0

    def AcceptWaveform(self, block: bytes) -> bool:
        self.blocks += 1
        return self.blocks % 10 == 0

    def Result(self) -> str:
        self.words += 1
        return json.dumps({"text": f"{self.name}{self.words}"})

    def PartialResult(self) -> str:
        return json.dumps({"partial": ""})

    def FinalResult(self) -> str:
        return json.dumps({"text": ""})


def test_two_calls_share_one_recognizer_and_lose_nothing() -> None:
    names = iter("ABCDEF")
    pool = RecognizerPool(lambda: Kaldi(next(names)), size=1)
    one = VoskStream(pool, Resampler(16000, 16000), 16000, partials=False)
    two = VoskStream(pool, Resampler(16000, 16000), 16000, partials=False)
    second = b"\x01\x00" * 16000  # 1 s at the model rate: 10 blocks, one sentence
    for _ in range(3):
        one.accept(second)
        two.accept(second)  # recognizer busy with call one: buffered
    assert two.buffered_seconds > 0 and not two.holds_recognizer
    first = one.finish()
    other = two.finish()
    # Every sentence of both calls, from the one recognizer, handed between them at sentence
    # ends (Vosk resets there) while the other waited.
    assert len(first.text.split()) == 3 and len(other.text.split()) == 3
    assert sorted(first.text.split() + other.text.split()) == [f"A{n}" for n in range(1, 7)]
    assert pool.created == 1 and pool.leased == 0 and two.waited >= 1


def test_a_stream_abandoned_mid_utterance_gives_its_recognizer_back() -> None:
    pool = RecognizerPool(lambda: Kaldi("A"), size=1)
    stream = VoskStream(pool, Resampler(16000, 16000), 16000, partials=False)
    stream.accept(b"\x01\x00" * 8000)
    assert stream.holds_recognizer
    stream.close()
    assert pool.leased == 0 and pool.idle == 1


def test_a_call_whose_audio_has_ended_goes_before_calls_still_speaking() -> None:
    pool = RecognizerPool(Counter(), size=1)
    held = pool.request(LIVE)
    speaking = pool.request(LIVE)
    ended = pool.request(FINISHING)  # a call-taker waits for this transcript now
    assert held.lease is not None
    pool.release(held.lease)
    assert ended.granted and not speaking.granted


def test_a_recorded_job_waits_while_live_calls_share_the_recognizers() -> None:
    names = iter("ABCDEF")
    pool = RecognizerPool(lambda: Kaldi(next(names)), size=1)
    live = VoskStream(pool, Resampler(16000, 16000), 16000, partials=False)
    recorded = VoskStream(pool, Resampler(16000, 16000), 16000, False, None, RECORDED)
    live.accept(b"\x01\x00" * 16000)
    recorded.accept(b"\x01\x00" * 16000)  # busy: buffered
    live.accept(b"\x01\x00" * 16000)  # no live call waits: it keeps the recognizer
    assert live.holds_recognizer and not recorded.holds_recognizer
    assert live.finish().text and recorded.finish().text
    assert pool.leased == 0


class VoskStates(Kaldi):
    """Vosk's recognizer states: only FinalResult on a running recognizer finalises it (drops
    its feature pipeline); after Result() at an endpoint it would carry on from there."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.state = "initialized"

    def AcceptWaveform(self, block: bytes) -> bool:
        self.state = "running"
        return super().AcceptWaveform(block)

    def Result(self) -> str:
        self.state = "endpoint"
        return super().Result()

    def FinalResult(self) -> str:
        if self.state == "running":
            self.state = "finalized"
        return super().FinalResult()


def test_a_recognizer_goes_to_the_next_call_finalised_even_after_an_endpoint() -> None:
    kaldi = VoskStates("A")
    pool = RecognizerPool(lambda: kaldi, size=1)
    one = VoskStream(pool, Resampler(16000, 16000), 16000, partials=False)
    two = VoskStream(pool, Resampler(16000, 16000), 16000, partials=False)
    one.accept(b"\x01\x00" * 16000)  # 10 blocks: ends on one of Vosk's endpoints
    two.accept(b"\x01\x00" * 3200)  # waits
    assert kaldi.state == "endpoint"
    states = []
    original = pool.release

    def release(lease: object) -> None:
        states.append(kaldi.state)
        original(lease)  # type: ignore[arg-type]

    pool.release = release  # type: ignore[method-assign]
    one.accept(b"\x01\x00" * 16000)  # a sentence end with a call waiting: handed on
    assert not one.holds_recognizer
    other = threading.Thread(target=two.finish)  # each call has a thread of its own
    other.start()
    one.finish()
    other.join(5)
    assert not other.is_alive()
    assert states and all(state == "finalized" for state in states)


class NeverEnds(Kaldi):
    """No sentence end of its own: only a hand-on at a quiet block frees it."""

    def AcceptWaveform(self, block: bytes) -> bool:
        self.blocks += 1
        return False

    def FinalResult(self) -> str:
        return json.dumps({"text": f"{self.name}{self.blocks}"})


def test_a_call_whose_audio_ended_takes_the_recognizer_at_the_next_quiet_block() -> None:
    """A finished call waits for a recognizer a speaking call holds: the holder hands it on at
    its next quiet block however briefly it has held it (not only after SHARE_SECONDS), so the
    call-taker's transcript is not kept waiting for seconds of another call's speech."""
    from asr.vosk_backend import SHARE_SECONDS

    pool = RecognizerPool(lambda: NeverEnds("A"), size=1)
    one = VoskStream(pool, Resampler(16000, 16000), 16000, partials=False)
    two = VoskStream(pool, Resampler(16000, 16000), 16000, partials=False)
    loud, quiet = b"\x00\x30" * 1600, b"\x01\x00" * 1600  # 0.1 s each at the model rate
    one.accept(loud * 5)
    two.accept(loud * 3)  # busy: buffered
    assert one.holds_recognizer and not two.holds_recognizer
    done: list[str] = []
    finishing = threading.Thread(target=lambda: done.append(two.finish().text))
    finishing.start()
    for _ in range(500):
        if pool.waiting_at(FINISHING):
            break
        finishing.join(0.01)
    assert pool.waiting_at(FINISHING)
    one.accept(loud * 2)  # still speaking: keeps it
    assert one.holds_recognizer and finishing.is_alive()
    one.accept(quiet * 2)  # a gap between words, well before SHARE_SECONDS of holding
    assert SHARE_SECONDS > 0.9  # held 0.9 s (0.5 + 0.2 + 0.2)
    finishing.join(5)
    assert not finishing.is_alive() and done and done[0]
    assert not one.holds_recognizer  # asked again, behind the finished call
    assert one.finish().text
    assert pool.leased == 0
