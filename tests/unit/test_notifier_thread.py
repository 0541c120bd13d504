"""The worker thread of ``voxbill serve``: runs the worker each interval, survives a
failing run, stops when asked."""

from __future__ import annotations

import threading
from typing import cast

from voxbill.jobs.notifier import NotifierThread
from voxbill.services.notify.delivery import DeliveryWorker, RunSummary


class _Worker:
    def __init__(self) -> None:
        self.runs = 0
        self.ran = threading.Event()

    def run_once(self) -> RunSummary:
        self.runs += 1
        if self.runs == 1:
            raise RuntimeError("database away")
        if self.runs >= 3:
            self.ran.set()
        return RunSummary(attempted=1, delivered=1)


def test_the_thread_keeps_running_after_a_failed_run_and_stops() -> None:
    worker = _Worker()
    thread = NotifierThread(cast(DeliveryWorker, worker), interval_seconds=0.001).start()
    try:
        assert worker.ran.wait(timeout=30)
    finally:
        thread.stop()
    runs = worker.runs
    assert runs >= 3
    assert not thread._thread.is_alive()
