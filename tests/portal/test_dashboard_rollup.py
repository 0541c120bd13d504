"""The dashboard's per-minute roll-up, on SQLite and PostgreSQL (docs/portal.md,
"Dashboard and charts"): the figures are the same before a pass, after it, after a late
stop corrects a CDR the pass had added, and after a rebuild from the CDRs; a pass leaves
the CDRs written within the lag for later; two passes racing add each CDR once; the
command line runs one."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from portal_world import AT, World
from sqlalchemy import func, select
from test_portal_dashboard import PBX, _busy_day, _principal, _system

from support.voxbill_process import cli_runner
from voxbill.domain.access import Principal, Role
from voxbill.domain.dashboard import (
    ROLLED_KINDS,
    Margin,
    RolledCdr,
    RollupKey,
    RollupKind,
    TrafficPoint,
    contributions,
    day_window,
)
from voxbill.storage.schema import cdrs, dashboard_minutes

LATER = datetime(2030, 1, 1, tzinfo=UTC)  # every CDR of the tests was written before it


def _figures(world: World, principal: Principal) -> tuple[Any, ...]:
    """The day's traffic and margins as the storage reads them (no service cache)."""
    start, end = day_window(AT)
    root = principal.path == f"/{principal.account_id}/"
    with world.container.uow.transaction(readonly=True) as tx:
        account = tx.accounts.get(principal.account_id)
        assert account is not None
        rolled = account.kind in ROLLED_KINDS
        where = {"account_id": principal.account_id, "path": principal.path, "rolled": rolled}
        traffic = tx.cdrs.traffic(**where, start=start, end=end)
        margins = tx.cdrs.margins(**where, root=root, start=start, end=end)
    return traffic, margins


def _everyone(world: World) -> dict[str, tuple[Any, ...]]:
    who = {
        "admin": _system(world),
        "reseller_a": _principal(world, world.reseller_a, Role.RESELLER),
        "reseller_b": _principal(world, world.reseller_b, Role.RESELLER),
        "customer_a": _principal(world, world.customer_a, Role.SUPPORT),
    }
    return {name: _figures(world, p) for name, p in who.items()}


def _rows(world: World) -> int:
    with world.container.db.transaction(readonly=True) as conn:
        return int(conn.execute(select(func.count()).select_from(dashboard_minutes)).scalar_one())


EXPECTED_ADMIN = (
    [
        TrafficPoint(AT, "USD", 1, Decimal("0.1")),
        TrafficPoint(AT + timedelta(minutes=1), "USD", 1, Decimal("0.2")),
    ],
    [Margin("USD", Decimal("0.09"), 2)],
)


def test_the_figures_are_the_same_before_and_after_a_pass_and_a_rebuild(world: World) -> None:
    _busy_day(world)
    before = _everyone(world)
    assert before["admin"] == EXPECTED_ADMIN
    assert before["reseller_a"][1] == [Margin("USD", Decimal("0.12"), 2)]
    assert before["reseller_b"] == ([], [])
    assert _rows(world) == 0
    rollup = world.container.dashboard_rollup
    assert rollup.run_once(LATER) == 3  # the day before's call too
    assert _rows(world) > 0
    assert _everyone(world) == before  # now read from the minute rows
    assert rollup.run_once(LATER) == 0  # nothing new: nothing added twice
    assert _everyone(world) == before
    assert rollup.rebuild(LATER) == 3
    assert _everyone(world) == before


def test_a_pass_leaves_the_cdrs_written_within_the_lag(world: World) -> None:
    _busy_day(world)
    with world.container.db.transaction(readonly=True) as conn:
        written = conn.execute(select(func.max(cdrs.c.created_at))).scalar_one()
    rollup = world.container.dashboard_rollup
    lag = timedelta(seconds=world.container.settings.dashboard_rollup_lag_seconds)
    written = written if written.tzinfo else written.replace(tzinfo=UTC)
    assert rollup.run_once(written + lag - timedelta(seconds=1)) < 3
    assert _everyone(world)["admin"] == EXPECTED_ADMIN
    assert rollup.run_once(written + lag + timedelta(seconds=1)) > 0
    assert rollup.run_once(LATER) == 0
    assert _everyone(world)["admin"] == EXPECTED_ADMIN


def test_a_late_stop_correcting_a_rolled_up_cdr_moves_its_minutes(world: World) -> None:
    """The call still up is swept (settled at its grant or usage), rolled up, then its
    real stop arrives: the minute rows take the difference, so they still agree with a
    rebuild from the corrected CDRs."""
    _busy_day(world)
    container = world.container
    assert container.charging.sweep(LATER) == 1
    rollup = container.dashboard_rollup
    rollup.run_once(LATER)
    swept = _everyone(world)
    settled = container.charging.stop("d-up", 30)
    assert settled.corrected
    corrected = _everyone(world)
    assert corrected != swept  # the correction shows at once
    rollup.rebuild(LATER)
    assert _everyone(world) == corrected


def test_contributions_reach_every_level_and_cancel_when_undone() -> None:
    cdr = RolledCdr(
        id=1,
        path="/1/5/77/",
        rolled=(1, 5),  # the operator and a reseller; 77 is a customer
        started_at=AT + timedelta(seconds=42),
        currency="EUR",
        cost=Decimal("0.30"),
        margin=Decimal("0.05"),
        payer_currency="USD",
        sell_margins=((5, "EUR", Decimal("0.12")), (77, "EUR", Decimal("0.01"))),
    )
    found = contributions(cdr)
    assert found == {
        RollupKey(1, RollupKind.TRAFFIC, AT, "EUR"): (1, Decimal("0.30")),
        RollupKey(5, RollupKind.TRAFFIC, AT, "EUR"): (1, Decimal("0.30")),
        RollupKey(1, RollupKind.PAYER_MARGIN, AT, "USD"): (1, Decimal("0.05")),
        RollupKey(5, RollupKind.SELL_MARGIN, AT, "EUR"): (1, Decimal("0.12")),
    }
    contributions(cdr, found, sign=-1)
    assert set(found.values()) == {(0, Decimal("0.00"))}


@pytest.mark.postgres
def test_two_passes_racing_add_each_cdr_once(world: World) -> None:
    """Two nodes' passes at once, in small batches: they take turns on the mark's row
    lock, and the minute rows agree with a rebuild."""
    if world.container.db.engine.dialect.name != "postgresql":
        pytest.skip("the race is PostgreSQL's: SQLite has one writer")
    _busy_day(world)
    charging = world.container.charging
    for account in (world.reseller_a, world.customer_a):
        world.container.ledger.top_up(account, Decimal("100"), actor="test")
    for n in range(40):
        at = AT + timedelta(minutes=10 + n % 7)
        charging.start(f"race-{n}", PBX, "+442079460000", at)
        charging.stop(f"race-{n}", 30 + n)
    expected = _everyone(world)
    rollup = world.container.dashboard_rollup
    barrier = threading.Barrier(2)
    added: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            added.append(rollup.run_once(LATER, batch=5))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sum(added) == 43  # 3 of the busy day + 40, each once
    assert _everyone(world) == expected
    rollup.rebuild(LATER)
    assert _everyone(world) == expected


def test_the_command_line_runs_a_pass(world: World, tmp_path: Path) -> None:
    _busy_day(world)
    url = world.container.settings.database_url
    env = {"VOXBILL_DATABASE_URL": url, "VOXBILL_DASHBOARD_ROLLUP_LAG_SECONDS": "0"}
    run = cli_runner(env, tmp_path)
    done = run("dashboard", "rollup", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"added": 3, "rebuilt": False}
    again = run("dashboard", "rollup", "--rebuild")
    assert again.returncode == 0, again.stderr
    assert "rebuilt from 3 CDRs" in again.stdout
    assert _everyone(world)["admin"] == EXPECTED_ADMIN
