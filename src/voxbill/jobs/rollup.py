"""The dashboard's roll-up pass in ``voxbill serve``: every
``dashboard_rollup_interval_seconds``, add the CDRs settled since the last pass to the
per-minute rows (:class:`~voxbill.services.charging.rollup.DashboardRollup`). Several
nodes may run it; they take turns on the mark."""

from __future__ import annotations

import logging
import threading

from voxbill.services.charging.rollup import DashboardRollup

log = logging.getLogger("voxbill.rollup")


class RollupThread:
    def __init__(self, rollup: DashboardRollup, interval_seconds: float) -> None:
        self._rollup = rollup
        self._interval = interval_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voxbill-rollup", daemon=True)

    def start(self) -> RollupThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)

    def run_once(self) -> int:
        """One pass; a failure is logged and retried next interval (the dashboard stays
        exact meanwhile: it reads what the pass has not reached from the CDRs)."""
        try:
            added = self._rollup.run_once()
        except Exception:
            log.exception("dashboard roll-up failed; retrying in %s s", self._interval)
            return 0
        if added:
            log.info("dashboard roll-up added %d CDRs", added)
        return added

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            self.run_once()
