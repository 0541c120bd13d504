"""A start reads its chain's statuses and limits inside its own transaction, locked: a
block being committed meanwhile is waited for and seen, never admitted past."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import text, update

from support.charging_world import AT, UK, build_world
from voxbill.bootstrap import Container
from voxbill.services.charging.service import ChargingRefused
from voxbill.storage.schema.accounts import accounts


def _waiting_on_a_lock(container: Container) -> bool:
    if container.db.engine.dialect.name != "postgresql":
        return True  # SQLite: one writer, the start cannot begin before the block commits
    with container.db.engine.connect() as conn:
        query = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return bool(conn.execute(text(query)).scalar_one())


def test_a_start_waits_for_a_block_being_committed_and_is_refused(
    container: Container,
) -> None:
    world = build_world(container)
    outcome: list[Any] = []

    def start() -> None:
        try:
            outcome.append(container.charging.start("s-1", world.customer_caller, UK, AT))
        except ChargingRefused as refused:
            outcome.append(refused)

    container.charging.authorize(world.customer_caller, UK, AT)  # warm the caches
    with container.db.transaction() as conn:
        conn.execute(
            update(accounts).where(accounts.c.id == world.reseller).values(status="blocked")
        )
        caller = threading.Thread(target=start)
        caller.start()
        while not _waiting_on_a_lock(container) and caller.is_alive():
            caller.join(0.01)
    caller.join()
    assert [type(o).__name__ for o in outcome] == ["ChargingRefused"]
    assert outcome[0].reason == "blocked"
