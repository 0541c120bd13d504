"""A session's expiry is anchored on its opening: updates that report no usage cannot keep
it (and its holds) open past its grant plus the slack; the sweeper then settles it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from typing import Any

from sqlalchemy import select

from support.charging_world import AT, UK, build_world
from voxbill.bootstrap import Container
from voxbill.storage.schema.charging import charging_sessions


def _row(container: Container, session_id: str) -> Any:
    with container.db.transaction(readonly=True) as conn:
        query = select(charging_sessions).where(charging_sessions.c.session_id == session_id)
        return conn.execute(query).one()


def test_updates_reporting_no_usage_do_not_push_the_expiry(container: Container) -> None:
    world = build_world(container)
    charging = container.charging
    slack = container.settings.hold_expiry_slack_seconds
    for session_id, interim in (("idle-interim", True), ("idle-whole", False)):
        charging.start(session_id, world.customer_caller, UK, AT, interim=interim)
        opened = _row(container, session_id)
        for number in range(1, 6):
            charging.update(session_id, 0, request_number=number)
        row = _row(container, session_id)
        assert row.granted_seconds == opened.granted_seconds
        assert row.expires_at == opened.created_at + timedelta(
            seconds=opened.granted_seconds + slack
        )
    assert charging.sweep(_row(container, "idle-interim").expires_at) == 1
    assert _row(container, "idle-interim").status == "settled"
    assert charging.stop("idle-interim", 0).cost == D("0")  # interim: its usage, none


def test_reported_usage_extends_from_the_opening_not_from_the_report(
    container: Container,
) -> None:
    world = build_world(container)
    charging = container.charging
    slack = container.settings.hold_expiry_slack_seconds
    charging.start("busy", world.customer_caller, UK, AT, interim=True)
    opened = _row(container, "busy")
    grant = charging.update("busy", 250, request_number=1)
    row = _row(container, "busy")
    assert row.granted_seconds == 550  # 250 used + a 300 s chunk
    assert grant.expires_at == row.expires_at == opened.created_at + timedelta(seconds=550 + slack)


def test_a_session_the_switch_never_confirms_costs_nothing_by_default(
    container: Container,
) -> None:
    """A start nobody follows up (no update, no stop: a forged INVITE, a NAS without
    accounting) is swept at nothing (``nothing``, the default); one that reported usage
    at its last report. Its hold is released whole."""
    world = build_world(container)
    charging = container.charging
    assert container.settings.sweeper_settle_at == "nothing"
    world.patch(world.customer, max_call_cost="0.50")
    before = world.balance(world.customer)
    charging.start("never-confirmed", world.customer_caller, UK, AT, interim=False)
    charging.start("confirmed-once", world.customer_caller, UK, AT, interim=True)
    charging.update("confirmed-once", 40, request_number=1)
    assert container.ledger.balance(world.customer).reserved > D("0")
    later = _row(container, "confirmed-once").expires_at + timedelta(days=1)
    assert charging.sweep(later) == 2
    assert charging.stop("never-confirmed", 0).cost == D("0")
    confirmed = charging.stop("confirmed-once", 40)  # as the sweeper charged: no correction
    assert confirmed.cost > D("0")  # its last reported 40 s
    assert world.balance(world.customer) == before - confirmed.cost
    assert container.ledger.balance(world.customer).reserved == D("0")
    assert container.ledger.verify() == []
