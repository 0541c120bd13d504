"""One session that cannot settle never blocks the sweeper: it is put back with its error
and a later expiry while the others settle; expired holds no session owns are released."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from support.charging_world import AT, UK, build_world
from voxbill.bootstrap import Container
from voxbill.jobs.sweeper import SweeperThread
from voxbill.services.charging import service as charging_module
from voxbill.storage.schema.charging import charging_sessions


def _session(container: Container, session_id: str) -> Any:
    with container.db.transaction(readonly=True) as conn:
        query = select(charging_sessions).where(charging_sessions.c.session_id == session_id)
        return conn.execute(query).one()


def test_a_session_that_fails_to_settle_is_put_back_and_the_rest_settle(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(container)
    charging = container.charging
    world.patch(world.customer, max_call_duration=60)
    charging.start("bad", world.customer_caller, UK, AT)  # expires first: the oldest
    charging.start("good", world.card_caller, UK, AT)
    real_settle = charging_module.settle

    def failing(journal: Any, row: Any, *args: Any, **kwargs: Any) -> Any:
        if row.session_id == "bad":
            raise RuntimeError("cannot settle")
        return real_settle(journal, row, *args, **kwargs)

    monkeypatch.setattr(charging_module, "settle", failing)
    later = datetime.now(UTC) + timedelta(days=1)
    assert charging.sweep(later) == 1
    assert _session(container, "good").status == "settled"
    bad = _session(container, "bad")
    assert (bad.status, bad.sweep_attempts, bad.sweep_error) == (
        "open",
        1,
        "RuntimeError: cannot settle",
    )
    assert bad.expires_at == later + timedelta(seconds=60)
    assert charging.sweep(later) == 0  # backed off: not retried at once
    assert charging.sweep(later + timedelta(seconds=60)) == 0
    assert _session(container, "bad").sweep_attempts == 2
    assert _session(container, "bad").expires_at == later + timedelta(seconds=180)

    monkeypatch.setattr(charging_module, "settle", real_settle)
    assert charging.sweep(later + timedelta(hours=1)) == 1
    settled = _session(container, "bad")
    assert settled.status == "settled"
    assert container.ledger.balance(world.customer).reserved == Decimal(0)
    assert container.ledger.verify() == []


def test_the_backstop_releases_only_holds_no_session_owns(container: Container) -> None:
    world = build_world(container)
    charging = container.charging
    now = datetime.now(UTC)
    container.ledger.place_hold(
        world.card, Decimal("2"), reference="orphan", expires_at=now - timedelta(seconds=1)
    )
    charging.start("call", world.customer_caller, UK, AT)
    far = now + timedelta(days=2)  # the call's holds have expired too, but a session owns them
    assert SweeperThread(charging, 60).run_once() == 0  # nothing due as of now
    assert container.ledger.holds("orphan")[0].status == "expired"
    assert charging.release_orphan_holds(far) == 0
    assert {h.status for h in container.ledger.holds("call")} == {"open"}
    assert container.ledger.balance(world.card).reserved == Decimal(0)
