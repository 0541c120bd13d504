"""A charging step holds one pooled connection at a time, on SQLite and PostgreSQL.

A rate plan's version is checked before the step's transaction, not inside it: threads
that each held a connection while waiting for a second one (to recheck a plan) once
emptied the pool and stalled for its 30 s timeout.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event

from support.charging_world import UK, World, build_world
from voxbill.bootstrap import Container


def test_authorize_start_and_stop_never_hold_two_connections(container: Container) -> None:
    world: World = build_world(container)
    container.rating._recheck = 0.0  # every plan is due for a check at every use
    held: dict[int, int] = {}
    most = [0]
    lock = threading.Lock()

    def checkout(*_: Any) -> None:
        with lock:
            me = threading.get_ident()
            held[me] = held.get(me, 0) + 1
            most[0] = max(most[0], held[me])

    def checkin(*_: Any) -> None:
        with lock:
            me = threading.get_ident()
            held[me] = held.get(me, 0) - 1

    pool = container.db.engine.pool
    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)
    try:
        charging = container.charging
        assert charging.authorize(world.customer_caller, UK).allowed
        charging.start("one-conn", world.customer_caller, UK, interim=True)
        charging.stop("one-conn", 42)
    finally:
        event.remove(pool, "checkout", checkout)
        event.remove(pool, "checkin", checkin)
    assert most[0] == 1
