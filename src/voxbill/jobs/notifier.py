"""The notification worker in ``voxbill serve``: every ``notify_interval_seconds``, fan
the outbox out and send what is due. One per process; several nodes share the queue
(each delivery claimed with ``SKIP LOCKED`` under a lease)."""

from __future__ import annotations

import logging
import threading

from voxbill.services.notify.delivery import DeliveryWorker

log = logging.getLogger("voxbill.notify")


class NotifierThread:
    def __init__(self, worker: DeliveryWorker, interval_seconds: float) -> None:
        self._worker = worker
        self._interval = interval_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voxbill-notifier", daemon=True)

    def start(self) -> NotifierThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)

    def run_once(self) -> None:
        try:
            summary = self._worker.run_once()
        except Exception:
            log.exception("notification run failed; retrying in %s s", self._interval)
            return
        if summary.attempted:
            log.info(
                "notifications: %d delivered, %d to retry, %d dead",
                summary.delivered,
                summary.failed,
                summary.dead,
            )

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            self.run_once()
