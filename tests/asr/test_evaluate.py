from __future__ import annotations

from pathlib import Path

import pytest

from asr.evaluate import edit_distance, evaluate, format_report, newmm_tokens, score
from asr.recognizer import Partial, Result
from asr.wavfile import write_wav


def test_spaces_are_not_errors_in_either_measure() -> None:
    u = score("a", "สวัสดีครับ ผมอยู่เชียงใหม่", "สวัสดี ครับ ผม อยู่ เชียงใหม่", 1.0, 0.5)
    assert (u.char_errors, u.word_errors) == (0, 0)
    assert u.words == len(newmm_tokens("สวัสดีครับผมอยู่เชียงใหม่"))


def test_one_wrong_word_counts_once_in_words_and_by_letters_in_characters() -> None:
    u = score("a", "ผมอยู่เชียงใหม่", "ผมอยู่เชียงราย", 1.0, 0.5)
    assert u.word_errors == 1
    assert u.char_errors == edit_distance(list("เชียงใหม่"), list("เชียงราย"))
    assert u.chars == len("ผมอยู่เชียงใหม่")


class EchoRecognizer:
    """Hears exactly the reference text stored next to each file (by its length in bytes)."""

    def __init__(self, texts: dict[int, str]) -> None:
        self.texts = texts

    @property
    def sample_rate(self) -> int:
        return 16000

    def open_stream(
        self, input_rate: int = 8000, *, partials: bool = True, live: bool = True
    ) -> EchoStream:
        return EchoStream(self.texts)


class EchoStream:
    def __init__(self, texts: dict[int, str]) -> None:
        self.texts, self.size = texts, 0

    def accept(self, pcm16: bytes) -> Partial | None:
        self.size += len(pcm16)
        return None

    def finish(self) -> Result:
        return Result(self.texts[self.size], [], self.size / 16000)

    def close(self) -> None:
        pass


def test_a_folder_is_scored_file_by_file_and_in_total(tmp_path: Path) -> None:
    write_wav(tmp_path / "one.wav", b"\x00\x00" * 8000, 8000)
    (tmp_path / "one.txt").write_text("แจ้งเรื่องถนนพัง\n", encoding="utf-8")
    write_wav(tmp_path / "two.wav", b"\x00\x00" * 4000, 8000)
    (tmp_path / "two.txt").write_text("ไฟดับ", encoding="utf-8")
    write_wav(tmp_path / "lonely.wav", b"\x00\x00" * 100, 8000)  # no reference: skipped
    recognizer = EchoRecognizer({16000: "แจ้ง เรื่อง ถนน พัง", 8000: "ไฟ ดับ ครับ"})
    report = evaluate(recognizer, tmp_path)
    assert [u.name for u in report.utterances] == ["one", "two"]
    # only "ครับ" is extra: its letters over all reference letters
    assert report.cer == pytest.approx(len("ครับ") / (len("แจ้งเรื่องถนนพัง") + len("ไฟดับ")))
    assert report.wer > 0
    assert report.rtf >= 0
    text = format_report(report)
    assert "files 2" in text and "CER" in text and "WER(newmm)" in text and "RTF" in text


def test_a_folder_without_pairs_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no name\.wav"):
        evaluate(EchoRecognizer({}), tmp_path)


@pytest.mark.slow
def test_cli_eval_on_the_real_engine(
    tmp_path: Path, korean_wav: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hotline1567.cli import main

    (tmp_path / "ko.wav").write_bytes(korean_wav.read_bytes())
    (tmp_path / "ko.txt").write_text("안녕하세요 도로에 큰 구멍이 있어서", encoding="utf-8")
    assert main(["asr", "eval", str(tmp_path), "--model", str(model_dir)]) == 0
    out = capsys.readouterr().out
    assert "files 1" in out and "RTF" in out
    assert main(["asr", "eval", str(tmp_path / "nope"), "--model", str(model_dir)]) == 1
