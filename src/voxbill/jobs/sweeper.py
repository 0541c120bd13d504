"""The session sweeper: settles every call session whose hold expired, so that none is
ever left open. Runs in a thread of ``voxbill serve``; several nodes may run it at once
(each session is claimed with ``SKIP LOCKED`` and settled exactly once).
"""

from __future__ import annotations

import logging
import threading

from voxbill.services.charging.service import ChargingService

log = logging.getLogger("voxbill.sweeper")


class SweeperThread:
    def __init__(self, charging: ChargingService, interval_seconds: float) -> None:
        self._charging = charging
        self._interval = interval_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voxbill-sweeper", daemon=True)

    def start(self) -> SweeperThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def run_once(self) -> int:
        """Settle what has expired now, then release expired holds no session owns; a
        failure is logged and retried next interval."""
        try:
            settled = self._charging.sweep()
        except Exception:
            log.exception("sweeper run failed; retrying in %s s", self._interval)
            settled = 0
        try:
            released = self._charging.release_orphan_holds()
        except Exception:
            log.exception("hold backstop failed; retrying in %s s", self._interval)
            released = 0
        try:
            self._charging.forget_velocity()
        except Exception:
            log.exception("velocity pruning failed; retrying in %s s", self._interval)
        if settled:
            log.info("sweeper settled %d expired call sessions", settled)
        if released:
            log.info("sweeper released %d expired holds that no session owns", released)
        return settled

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            while self.run_once() >= 500 and not self._stopping.is_set():
                pass  # a backlog: keep going without waiting
