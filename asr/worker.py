"""The ASR worker loop: claim jobs from the consumer group, decode several at once, keep them.

Sharing and failure, in Redis Streams terms:

* Any number of workers on any number of hosts read ``hotline:{asr}:jobs`` through the
  ``asr-workers`` group; a worker claims a job only when it has a free decoding slot, so the
  jobs it cannot start stay in the stream for the others, and the backlog drains oldest first.
  Its number of slots follows its cores and the measured cost of decoding (``asr.capacity``),
  and while one of its calls is behind the caller it claims nothing new.
* A claimed job stays pending until acknowledged. A live worker refreshes the idle time of its
  own pending jobs every ``reclaim_seconds / 3`` (XCLAIM to itself, JUSTID), so a 20-minute
  call is never taken from it; a job idle longer than ``reclaim_seconds`` (default 30 s) belongs
  to a dead worker and any worker takes it over (XAUTOCLAIM) and starts over from the audio.
* A job that kills its worker every time is given up after ``max_deliveries``.
* A recording whose job never reached the stream (Redis down for the whole call, or Redis lost
  its data) would wait forever: every ``sweep_seconds`` a worker looks for drafts still waiting
  for ASR a while after their recording ended and queues a file job for each one that has no
  job (``AudioQueue.enqueue_if_absent``: atomic, so of many workers only one queues it).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from asr import metrics
from asr.capacity import Capacity
from asr.fields import FieldExtractor, understanding_config_path
from asr.job import JobRunner, JobSettings, JobState, Outcome
from asr.recognizer import Recognizer
from asr.stats import WorkerStats, publish_backlog
from config.sections import ASR_MAX_SLOTS
from config.settings import Settings
from ticketing.audio_queue import AsrJob, ClaimedJob
from ticketing.container import Services
from ticketing.errors import BusUnavailable

log = logging.getLogger(__name__)


MAX_SLOTS = ASR_MAX_SLOTS  # default upper bound on calls at once per process


@dataclass(frozen=True)
class WorkerConfig:
    consumer: str
    concurrency: int = MAX_SLOTS  # upper bound; the slots in use come from cores and cost
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    reclaim_seconds: float = 30.0
    stats_seconds: float = 2.0
    sweep_seconds: float = 60.0
    sweep_after_seconds: float = 120.0  # a finished recording's job has had this long to appear
    abandoned_after_seconds: float = 7200.0  # a recording its IVR node never finished
    job: JobSettings = field(default_factory=JobSettings)

    @property
    def heartbeat_seconds(self) -> float:
        return self.reclaim_seconds / 3

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        options = settings.asr_worker
        return cls(
            consumer=options.consumer or f"{socket.gethostname()}-{os.getpid()}",
            concurrency=options.concurrency,
            reclaim_seconds=options.reclaim_seconds,
            sweep_seconds=options.sweep_seconds,
            job=JobSettings(
                stream_grace_seconds=options.stream_wait_seconds,
                stream_idle_seconds=options.stream_idle_seconds,
                max_deliveries=options.max_attempts,
                agent_channel=options.agent_channel,
            ),
        )


class AsrWorker:
    def __init__(
        self,
        services: Services,
        recognizer: Recognizer | None,
        config: WorkerConfig,
        extractor: FieldExtractor | None = None,
    ) -> None:
        self._services = services
        self._config = config
        self.capacity = Capacity(config.cores, max_slots=config.concurrency)
        self._runner = JobRunner(
            services,
            recognizer,
            # the deployer's understanding.toml, not only the packaged one (issue 8)
            extractor or FieldExtractor(understanding_config_path(services.settings.config_dir)),
            config.job,
            self.capacity,
        )
        self._lock = threading.Lock()
        self._in_flight: dict[str, JobState] = {}
        self._slot_free = threading.Event()
        self.stats = WorkerStats(config.consumer)
        self.peak_slots = 0

    @property
    def consumer(self) -> str:
        return self._config.consumer

    @property
    def slots(self) -> int:
        """Calls taken at once now (from cores and the measured cost, within the bound)."""
        return self.capacity.slots

    def run(self, stop: threading.Event) -> None:
        cfg = self._config
        self._services.audio.ensure_group()
        log.info(
            "asr worker %s: %d cores, %d calls at once to start with (at most %d), "
            "reclaim after %.0f s",
            cfg.consumer,
            self.capacity.cores,
            self.capacity.slots,
            cfg.concurrency,
            cfg.reclaim_seconds,
        )
        self._runner.warm()  # before the first claim: no caller waits for the tables to load
        pool = ThreadPoolExecutor(cfg.concurrency, thread_name_prefix="asr-job")
        self._runner.partials.start()
        next_heartbeat = next_stats = next_reclaim = 0.0
        next_sweep = time.monotonic() + min(cfg.sweep_seconds, 10.0)
        try:
            while not stop.is_set():
                now = time.monotonic()
                try:
                    if now >= next_heartbeat:
                        self._heartbeat()
                        next_heartbeat = now + cfg.heartbeat_seconds
                    if now >= next_stats:
                        self._publish_stats()
                        next_stats = now + cfg.stats_seconds
                    if now >= next_sweep:
                        next_sweep = now + cfg.sweep_seconds
                        self.sweep()
                    if self._free_slots() == 0:
                        self._slot_free.wait(0.5)
                        self._slot_free.clear()
                        continue
                    claimed = None
                    if now >= next_reclaim:
                        # Jobs of dead workers are older than anything new: take them first.
                        claimed = self._reclaim()
                        if claimed is None:
                            next_reclaim = now + min(5.0, cfg.heartbeat_seconds)
                    if claimed is None:
                        claimed = self._services.audio.claim_job(cfg.consumer, block_ms=500)
                    if claimed is not None:
                        self._start(pool, claimed)
                except BusUnavailable as exc:
                    log.warning("asr worker %s: Redis error, retrying: %s", cfg.consumer, exc)
                    stop.wait(1.0)
        finally:
            self._shutdown(pool)

    # --- jobs -----------------------------------------------------------------------------
    def _free_slots(self) -> int:
        if self.capacity.behind:
            return 0  # a call of ours is behind the caller: let a worker with room take more
        slots = self.capacity.slots
        metrics.SLOTS.set(slots)
        with self._lock:
            self.peak_slots = max(self.peak_slots, slots)
            return slots - len(self._in_flight)

    def _reclaim(self) -> ClaimedJob | None:
        min_idle_ms = int(self._config.reclaim_seconds * 1000)
        claimed = self._services.audio.reclaim_stale(self._config.consumer, min_idle_ms=min_idle_ms)
        if claimed is not None:
            log.warning(
                "asr worker %s: took over job %s (ticket %d) from a silent worker",
                self._config.consumer,
                claimed.message_id,
                claimed.job.ticket_id,
            )
        return claimed

    def _start(self, pool: ThreadPoolExecutor, claimed: ClaimedJob) -> None:
        state = JobState(claimed)
        with self._lock:
            self._in_flight[claimed.message_id] = state
        pool.submit(self._work, state)

    def _work(self, state: JobState) -> None:
        claimed = state.claimed
        try:
            deliveries = self._deliveries(claimed)
            outcome = self._runner.run(state, deliveries)
        except Exception as exc:
            # Database or Redis trouble: leave the job pending; it is retried after the
            # reclaim delay (by whichever worker is free), at most max_deliveries times.
            log.exception("ticket %d: ASR job %s failed", claimed.job.ticket_id, claimed.message_id)
            outcome = Outcome("retry", error=f"{type(exc).__name__}: {exc}")
        try:
            if outcome.ack:
                self._services.audio.ack_job(claimed.message_id, claimed.job.recording_id)
        except BusUnavailable:
            log.exception("ticket %d: could not acknowledge job", claimed.job.ticket_id)
        finally:
            self.stats.record(outcome)
            with self._lock:
                self._in_flight.pop(claimed.message_id, None)
            self._slot_free.set()

    def _deliveries(self, claimed: ClaimedJob) -> int:
        if claimed.deliveries <= 1:
            return 1
        times = self._services.audio.deliveries(claimed.message_id)
        return times if times is not None else claimed.deliveries

    def sweep(self) -> int:
        """Queue a file job for each waiting recording that has none; returns how many."""
        cfg = self._config
        try:
            waiting = self._services.calls.recordings_awaiting_asr(
                finished_before=timedelta(seconds=cfg.sweep_after_seconds),
                abandoned_after=timedelta(seconds=cfg.abandoned_after_seconds),
            )
        except SQLAlchemyError:
            log.exception("asr worker %s: sweep could not read the database", cfg.consumer)
            return 0
        queued = 0
        for row in waiting:
            job = AsrJob(
                recording_id=row["recording_id"],
                ticket_id=row["ticket_id"],
                call_id=row["call_id"],
                path=row["path"],
                sample_rate=row["sample_rate"],
                streaming=False,
            )
            if self._services.audio.enqueue_if_absent(job) is not None:
                queued += 1
                log.warning(
                    "asr worker %s: recording %d (ticket %d) had no ASR job: queued its file",
                    cfg.consumer,
                    job.recording_id,
                    job.ticket_id,
                )
        return queued

    # --- liveness ---------------------------------------------------------------------------
    def _heartbeat(self) -> None:
        """Refresh the idle time of our pending jobs; notice the ones taken from us."""
        with self._lock:
            ids = list(self._in_flight)
        if not ids:
            return
        audio = self._services.audio
        mine = audio.pending_of(self._config.consumer)
        keep = [i for i in ids if i in mine]
        for message_id in set(ids) - mine:
            with self._lock:
                state = self._in_flight.get(message_id)
            if state is not None:
                state.lost.set()
        # min_idle: half a beat, so a job another worker has just taken is not taken back.
        audio.keep_claims(
            self._config.consumer, keep, min_idle_ms=int(self._config.heartbeat_seconds * 500)
        )

    def _publish_stats(self) -> None:
        backlog = publish_backlog(self._services.audio)
        if backlog.get("oldest_seconds", 0) > 60:
            log.warning("asr backlog: %s", backlog)

    def _shutdown(self, pool: ThreadPoolExecutor) -> None:
        # Unfinished jobs stay pending: another worker takes them over after the reclaim delay.
        with self._lock:
            states = list(self._in_flight.values())
        for state in states:
            state.lost.set()
        pool.shutdown(wait=True, cancel_futures=True)
        self._runner.partials.stop()
        log.info("asr worker %s stopped", self._config.consumer)
