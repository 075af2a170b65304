"""The job queue's workers: claim a queued job from the database, paint it, store the result.

A heartbeat thread marks this server's running jobs alive, passes on cancellations made through any
replica, queues again the jobs of servers that stopped beating (:meth:`Store.recover`) and drops
expired results. On shutdown a running job stops at its next step and is queued again. When the
database is away, a job's ending is written once it answers again: a finished job is never lost.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from plugin_core import credentials
from plugin_core.errors import BrushworkError, Cancelled

from .errors import DATABASE_AWAY, core_error
from .metrics import Metrics
from .painting import Order, paint
from .settings import Settings
from .store import CANCELLED, CANCELLING, FAILED, Job, Store

log = logging.getLogger("brushwork.serve")
POLL_SECONDS = 0.5
RETRY_SECONDS = 1.0
"""How often a job's ending is tried again while the database is away."""
PROGRESS_SECONDS = 0.5
"""How often a running job's progress is written to the database, at most."""


class JobRunner:
    def __init__(self, store: Store, settings: Settings, metrics: Metrics, signer: credentials.Signer | None):
        self.store, self.settings, self.metrics, self.signer = store, settings, metrics, signer
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.cancels: dict[str, threading.Event] = {}
        self.threads = [threading.Thread(target=self._work, name=f"brushwork-job-{n}", daemon=True)
                        for n in range(settings.job_workers)]
        self.threads.append(threading.Thread(target=self._beat, name="brushwork-heartbeat", daemon=True))

    @property
    def busy(self) -> int:
        return len(self.cancels)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        self.wake.set()
        for thread in self.threads:
            thread.join(timeout)

    def _work(self) -> None:
        while not self.stopping.is_set():
            try:
                job = self.store.claim(self.name)
            except Exception:  # the database is away: try again at the next poll
                log.exception("claiming a job failed")
                job = None
            if job is None:
                self.wake.wait(POLL_SECONDS)
                self.wake.clear()
                continue
            self._run(job)

    def _run(self, job: Job) -> None:
        cancelled = self.cancels[job.id] = threading.Event()
        deadline = time.monotonic() + self.settings.limits.job_seconds
        last_report = 0.0

        def progress(fraction: float) -> None:
            nonlocal last_report
            if time.monotonic() - last_report >= PROGRESS_SECONDS:
                last_report = time.monotonic()
                try:
                    self.store.progress(job.id, fraction)
                except DATABASE_AWAY:  # progress is a courtesy: painting goes on
                    pass

        def cancel() -> bool:
            return cancelled.is_set() or self.stopping.is_set() or time.monotonic() > deadline

        try:
            order = Order(job.fields, self.store.uploads(job.id))
            painted = paint(order, self.settings.limits, self.settings.device, progress, cancel,
                            self.settings.serial(job.key_id), self.signer)
            if self._settle(self.store.finish, job.id, self.name, painted.data, painted.media_type,
                            painted.megapixels, painted.seconds):
                self.metrics.images.labels(job.method).inc()
        except Cancelled:
            if cancelled.is_set():
                self._settle(self.store.end, job.id, CANCELLED)
            elif self.stopping.is_set():
                self._settle(self.store.requeue, job.id, self.name)
            else:
                self._settle(self.store.end, job.id, FAILED, f"the job ran past this server's limit of "
                                                             f"{self.settings.limits.job_seconds:g} s", "time_limit")
        except BrushworkError as error:
            self._settle(self.store.end, job.id, FAILED, str(error), core_error(error).code)
        except DATABASE_AWAY:
            log.warning("job %s stopped: the database is away; it is queued again once it answers", job.id)
            self._settle(self.store.requeue, job.id, self.name)
        except Exception:
            incident = uuid.uuid4().hex[:12]
            log.exception("incident %s in job %s", incident, job.id)
            self._settle(self.store.end, job.id, FAILED, f"the server failed (incident {incident})", "internal")
        finally:
            del self.cancels[job.id]

    def _settle(self, write, *args):
        """``write(*args)`` to the database, tried again while it is away (until this server stops)."""
        while True:
            try:
                return write(*args)
            except DATABASE_AWAY:
                log.warning("the database is away; writing %s again in %g s", write.__name__, RETRY_SECONDS)
                if self.stopping.wait(RETRY_SECONDS):
                    return None

    def _beat(self) -> None:
        while not self.stopping.wait(self.settings.heartbeat_seconds):
            try:
                for job_id, state in self.store.beat(list(self.cancels)).items():
                    event = self.cancels.get(job_id)
                    if state == CANCELLING and event is not None:
                        event.set()
                self.store.recover(self.settings.lease_seconds)
                self.store.expire(self.settings.limits.result_seconds)
            except Exception:  # the database is away: beat again next time
                log.exception("the heartbeat failed")
