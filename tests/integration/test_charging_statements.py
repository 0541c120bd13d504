"""How many statements a call's start and stop send, on SQLite and PostgreSQL: each is a
round trip (and server work) on PostgreSQL, where several writes are merged into one
(see ``test_merged_writes``). Every hot statement goes through the prepared layer: none
through SQLAlchemy's execution, and no ping of a connection used a moment ago."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import event

from support.charging_world import UK, build_world
from voxbill.bootstrap import Container
from voxbill.storage import prepared

#: (start, stop) statements, BEGIN and COMMIT aside; a start's last one counts the call in
#: its minute for the fraud guard's velocity alerts (VOXBILL_VELOCITY_FACTOR=0: one less)
EXPECTED = {"postgresql": (6, 5), "sqlite": (8, 11)}


def test_a_call_sends_few_statements(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    world = build_world(container)
    charging = container.charging
    warm = uuid.uuid4().hex  # caches filled, books known
    charging.start(warm, world.customer_caller, UK, interim=True)
    charging.stop(warm, 30)
    core: list[str] = []
    pings: list[Any] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's, sent by the engine
            core.append(statement)

    dialect = container.db.engine.dialect
    ping = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda c: pings.append(c) or ping(c))
    event.listen(container.db.engine, "before_cursor_execute", executed)
    try:
        session = uuid.uuid4().hex
        before = prepared.executions.value
        charging.start(session, world.customer_caller, UK, interim=True)
        started = prepared.executions.value
        charging.stop(session, 61)
        stopped = prepared.executions.value
    finally:
        event.remove(container.db.engine, "before_cursor_execute", executed)
    assert (started - before, stopped - started) == EXPECTED[container.db.dialect]
    assert core == []
    assert pings == []
