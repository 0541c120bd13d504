"""Lost and late stops, on SQLite and PostgreSQL (PRODUCT.md, "Real-time charging").

A session that never stops is settled by the sweeper at its last reported usage; one
that reported none at nothing (the default) or its whole grant
(``VOXBILL_SWEEPER_SETTLE_AT=grant``); the CDR says ``settled_by: sweeper`` and why. A
stop arriving afterwards corrects the charge to the actual duration at every level and
on the prepaid vendor, through linked ledger transactions (never an edit), once.

See ``support.sip_world``: customer C (retail UK 0.10/min, funds 10) under reseller R
(wholesale UK 0.06/min, funds 100) under the operator; Carrier-A buys UK at 0.03/min,
prepaid here (``mutual``, funded 50); all 1/1 increments, so 60 s cost 0.10 / 0.06 /
0.03.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from support.sip_world import CALLER, UK, SipWorld, build_sip_world
from voxbill.api.app import create_app
from voxbill.bootstrap import Container, build
from voxbill.domain.access import Role
from voxbill.domain.accounts import CutoffMode
from voxbill.domain.cdrs import Cdr
from voxbill.services.charging.service import CallerId
from voxbill.storage.schema import ledger_transactions

AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CUSTOMER = CallerId(ani=CALLER)


@pytest.fixture
def world(container: Container) -> SipWorld:
    world = build_sip_world(container)
    world.patch(world.carrier_a, cutoff_mode=CutoffMode.OUTBOUND)  # prepaid
    world.fund(world.carrier_a, "50")
    world.patch(world.customer, max_call_duration=120)  # a call without updates: 120 s
    return world


def _later() -> datetime:
    """Past every session's expiry (the sessions open at the real clock)."""
    return datetime.now(UTC) + timedelta(days=1)


def _cdr(world: SipWorld, session_id: str) -> Cdr:
    found = world.container.charging.cdrs(world.system.path, limit=100)
    return next(c for c in found if c.session_id == session_id)


def _balances(world: SipWorld) -> tuple[D, D, D]:
    """(customer C, reseller R, Carrier-A)."""
    ledger = world.container.ledger
    return tuple(  # type: ignore[return-value]
        ledger.balance(a).balance for a in (world.customer, world.reseller, world.carrier_a)
    )


def _transactions(world: SipWorld, session_id: str) -> list[tuple[int, str, str | None]]:
    """(id, kind, reason) of the ledger transactions referencing a session, in order."""
    t = ledger_transactions.c
    with world.container.db.transaction(readonly=True) as conn:
        rows = conn.execute(
            select(t.id, t.kind, t.reason).where(t.reference == session_id).order_by(t.id)
        ).all()
    return [(r.id, r.kind, r.reason) for r in rows]


def _swept(world: SipWorld) -> None:
    assert world.container.charging.sweep(_later()) >= 1
    assert world.container.ledger.balance(world.customer).reserved == D("0")
    assert world.container.ledger.verify() == []


def test_a_session_with_usage_reports_is_swept_at_its_last_report_then_a_longer_stop_charges_the_rest(  # noqa: E501
    world: SipWorld,
) -> None:
    charging = world.container.charging
    charging.start("u1", CUSTOMER, UK, AT, interim=True, vendor_id=world.carrier_a)
    charging.update("u1", 60, request_number=1)
    _swept(world)
    swept = _cdr(world, "u1")
    assert (swept.settled_by, swept.settled_reason) == ("sweeper", "no_stop_last_usage")
    assert (swept.duration, swept.cost, swept.vendor_cost) == (60, D("0.1"), D("0.03"))
    assert swept.corrected_at is None
    # C paid 0.10 to R; R paid 0.06 to the operator; Carrier-A was debited 0.03
    assert _balances(world) == (D("9.90"), D("100.04"), D("49.97"))

    late = charging.stop("u1", 150)  # the real call: 150 s (0.25 / 0.15 / 0.075)
    assert (late.duration, late.cost, late.corrected, late.replayed) == (
        150,
        D("0.25"),
        True,
        False,
    )
    assert late.cdr_id == swept.id
    # the difference, 90 s: C -0.15, R +0.15 -0.09, Carrier-A -0.045
    assert _balances(world) == (D("9.75"), D("100.10"), D("49.925"))
    cdr = _cdr(world, "u1")
    assert (cdr.duration, cdr.billed_seconds, cdr.cost, cdr.vendor_cost) == (
        150,
        150,
        D("0.25"),
        D("0.075"),
    )
    assert cdr.margin == D("0.15") - D("0.075")
    assert (cdr.settled_by, cdr.settled_reason) == ("sweeper", "no_stop_last_usage")
    assert cdr.corrected_at is not None
    assert (cdr.swept_duration, cdr.swept_cost, cdr.swept_vendor_cost) == (60, D("0.1"), D("0.03"))
    assert [(leg.side, leg.cost, leg.swept_cost) for leg in cdr.legs] == [
        ("sell", D("0.25"), D("0.1")),
        ("sell", D("0.15"), D("0.06")),
        ("buy", D("0.075"), D("0.03")),
    ]
    # the sweeper's charge is untouched; the correction names it
    kinds = _transactions(world, "u1")
    assert [k for _, k, _ in kinds] == ["charge", "vendor_charge", "correction", "vendor_charge"]
    charge_id = kinds[0][0]
    reason = kinds[2][2]
    assert reason is not None
    assert f"correction of transaction {charge_id}" in reason
    assert kinds[3][2] == reason
    assert world.container.ledger.verify() == []


def test_a_session_that_reported_nothing_costs_nothing_then_its_late_stop_charges_it(
    world: SipWorld,
) -> None:
    charging = world.container.charging
    assert world.container.settings.sweeper_settle_at == "nothing"
    charging.start("n1", CUSTOMER, UK, AT, vendor_id=world.carrier_a)
    _swept(world)
    swept = _cdr(world, "n1")
    assert (swept.settled_by, swept.settled_reason) == ("sweeper", "no_stop_no_usage_nothing")
    assert (swept.duration, swept.cost, swept.vendor_cost) == (0, D("0"), D("0"))
    assert _balances(world) == (D("10"), D("100"), D("50"))
    assert _transactions(world, "n1") == []  # nothing charged: no transaction

    late = charging.stop("n1", 90)  # 0.15 / 0.09 / 0.045
    assert (late.cost, late.corrected) == (D("0.15"), True)
    assert _balances(world) == (D("9.85"), D("100.06"), D("49.955"))
    kinds = _transactions(world, "n1")
    assert [k for _, k, _ in kinds] == ["correction", "vendor_charge"]
    assert kinds[0][2] is not None
    assert "correction of a charge of nothing" in kinds[0][2]
    assert world.container.ledger.verify() == []


def test_a_session_that_reported_nothing_costs_its_grant_by_choice_then_a_shorter_stop_refunds(
    world: SipWorld,
) -> None:
    charging = world.container.charging
    world.container.settings.sweeper_settle_at = "grant"
    charging.start("g1", CUSTOMER, UK, AT, vendor_id=world.carrier_a)
    _swept(world)
    swept = _cdr(world, "g1")
    assert (swept.settled_by, swept.settled_reason) == ("sweeper", "no_stop_no_usage_grant")
    assert (swept.duration, swept.cost, swept.vendor_cost) == (120, D("0.2"), D("0.06"))
    assert _balances(world) == (D("9.80"), D("100.08"), D("49.94"))

    late = charging.stop("g1", 30)  # 0.05 / 0.03 / 0.015: 90 s given back at every level
    assert (late.duration, late.cost, late.corrected) == (30, D("0.05"), True)
    assert _balances(world) == (D("9.95"), D("100.02"), D("49.985"))
    cdr = _cdr(world, "g1")
    assert (cdr.duration, cdr.cost, cdr.vendor_cost, cdr.swept_duration, cdr.swept_cost) == (
        30,
        D("0.05"),
        D("0.015"),
        120,
        D("0.2"),
    )
    kinds = [k for _, k, _ in _transactions(world, "g1")]
    assert kinds == ["charge", "vendor_charge", "correction", "vendor_charge"]
    assert world.container.ledger.verify() == []


def test_a_repeated_late_stop_replays_the_correction(world: SipWorld) -> None:
    charging = world.container.charging
    charging.start("r1", CUSTOMER, UK, AT, interim=True, vendor_id=world.carrier_a)
    charging.update("r1", 60, request_number=1)
    _swept(world)
    first = charging.stop("r1", 150)
    after = _balances(world)
    for duration in (150, 30, 600):  # a retry, or another duration: the first correction
        again = charging.stop("r1", duration)
        assert (again.duration, again.cost, again.corrected, again.replayed) == (
            150,
            D("0.25"),
            True,
            True,
        )
        assert again.cdr_id == first.cdr_id
    assert _balances(world) == after == (D("9.75"), D("100.10"), D("49.925"))
    kinds = [k for _, k, _ in _transactions(world, "r1")]
    assert kinds.count("correction") == 1
    assert world.container.ledger.verify() == []


def test_a_stop_after_the_stop_still_replays(world: SipWorld) -> None:
    """Only the sweeper's settlements are corrected: a stop's is final."""
    charging = world.container.charging
    charging.start("s1", CUSTOMER, UK, AT)
    charging.stop("s1", 60)
    again = charging.stop("s1", 90)
    assert (again.duration, again.cost, again.replayed, again.corrected) == (
        60,
        D("0.1"),
        True,
        False,
    )
    assert _cdr(world, "s1").settled_reason is None


def test_a_late_stop_with_the_usage_since_the_last_report_adds_it_to_that_report(
    world: SipWorld,
) -> None:
    """Diameter reports deltas: the sweeper keeps the session's last reported usage, so
    a late stop's delta counts from it (60 + 30 s), not from what the sweeper charged."""
    charging = world.container.charging
    world.container.settings.sweeper_settle_at = "grant"
    charging.start("d1", CUSTOMER, UK, AT, interim=True)
    charging.update("d1", used_delta=60, request_number=1)
    _swept(world)
    assert _cdr(world, "d1").duration == 60  # it reported usage: not the grant
    late = charging.stop("d1", used_delta=30, request_number=2)
    assert (late.duration, late.cost) == (90, D("0.15"))
    assert world.container.ledger.balance(world.customer).balance == D("9.85")
    assert world.container.ledger.verify() == []


def test_late_stops_on_two_nodes_at_once_correct_exactly_once(
    world: SipWorld, database_url: str
) -> None:
    charging = world.container.charging
    sessions = [f"c{i}" for i in range(8)]
    for session_id in sessions:
        charging.start(session_id, CUSTOMER, UK, AT, interim=True, vendor_id=world.carrier_a)
        charging.update(session_id, 60, request_number=1)
    assert charging.sweep(_later()) == len(sessions)
    other = build(world.container.settings)  # a second node on the same database
    try:
        nodes = [charging, other.charging]
        work = [(node, s) for s in sessions for node in nodes]
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda job: job[0].stop(job[1], 150), work))
    finally:
        other.close()
    assert len([a for a in answers if not a.replayed]) == len(sessions)
    assert {(a.duration, a.cost, a.corrected) for a in answers} == {(150, D("0.25"), True)}
    for session_id in sessions:
        kinds = [k for _, k, _ in _transactions(world, session_id)]
        assert kinds == ["charge", "vendor_charge", "correction", "vendor_charge"]
    count = len(sessions)
    assert _balances(world) == (
        D("10") - count * D("0.25"),
        D("100") + count * (D("0.25") - D("0.15")),
        D("50") - count * D("0.075"),
    )
    assert world.container.ledger.verify() == []


@pytest.fixture
def api(world: SipWorld) -> Iterator[tuple[TestClient, dict[str, str]]]:
    container = world.container
    admin = container.auth.issue(world.system, world.root, Role.ADMIN).secret
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {admin}"}


def _post(client: TestClient, headers: dict[str, str], url: str, body: Any) -> Any:
    return client.post(f"/api/v1{url}", json=body, headers=headers)


def test_over_rest_the_cdr_says_who_settled_why_and_the_correction(
    world: SipWorld, api: tuple[TestClient, dict[str, str]]
) -> None:
    client, admin = api
    body = {"session_id": "h1", "caller": CALLER, "callee": UK, "interim": True}
    assert _post(client, admin, "/calls", body).status_code == 201
    assert _post(client, admin, "/calls/h1/update", {"duration": 60}).status_code == 200
    _swept(world)
    (swept,) = client.get("/api/v1/cdrs", headers=admin).json()["items"]
    assert (swept["settled_by"], swept["settled_reason"], swept["cost"]) == (
        "sweeper",
        "no_stop_last_usage",
        "0.1",
    )
    assert (swept["corrected_at"], swept["swept_cost"]) == (None, None)

    late = _post(client, admin, "/calls/h1/stop", {"duration": 150})
    assert late.status_code == 200
    assert "Idempotent-Replayed" not in late.headers
    assert {k: late.json()[k] for k in ("duration", "cost", "corrected", "replayed")} == {
        "duration": 150,
        "cost": "0.25",
        "corrected": True,
        "replayed": False,
    }
    again = _post(client, admin, "/calls/h1/stop", {"duration": 150})
    assert (again.headers["Idempotent-Replayed"], again.json()["cost"]) == ("true", "0.25")
    (cdr,) = client.get("/api/v1/cdrs", headers=admin).json()["items"]
    assert {
        k: cdr[k]
        for k in (
            "duration",
            "cost",
            "settled_by",
            "settled_reason",
            "swept_duration",
            "swept_cost",
        )
    } == {
        "duration": 150,
        "cost": "0.25",
        "settled_by": "sweeper",
        "settled_reason": "no_stop_last_usage",
        "swept_duration": 60,
        "swept_cost": "0.1",
    }
    assert cdr["corrected_at"] is not None
    assert [(leg["cost"], leg["swept_cost"]) for leg in cdr["legs"]] == [
        ("0.25", "0.1"),
        ("0.15", "0.06"),
    ]
    csv = client.get("/api/v1/cdrs.csv", headers=admin)
    header, row = csv.text.strip().splitlines()
    assert header.endswith(
        ",margin,settled_reason,corrected_at,swept_duration,swept_cost,swept_vendor_cost"
    )
    assert ",sweeper," in row
    assert row.endswith(",60,0.1,")  # no vendor on this call: no swept vendor cost
    assert ",no_stop_last_usage," in row
    assert world.container.ledger.balance(world.customer).balance == D("9.75")
    assert world.container.ledger.verify() == []
