"""Importing decks into stored plans, on SQLite and PostgreSQL: all or nothing, with changes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from voxbill.bootstrap import Container
from voxbill.domain.errors import InvalidInput, NoRate, RateDeckError, UnknownRatePlan
from voxbill.domain.rate_deck import read_deck
from voxbill.services.rating.imports import ImportReport, PlanOptions
from voxbill.storage.rating import rates as repo
from voxbill.storage.schema import rate_imports, rates

AT = datetime(2026, 3, 2, 12, tzinfo=UTC)  # a Monday noon
#: these imports run where no operator exists yet (as ``voxbill rates import`` on a fresh
#: database): the plans are unowned until the first operator adopts them
NO_OPERATOR = None

DECK = """prefix,destination,rate,connect_fee,initial_increment,increment,time_profile
33,France,0.025,0,60,60,
336,France Mobile,0.09,0,60,60,
447,UK Mobile,0.08,0.01,30,6,mon-fri 08:00-18:00
447,UK Mobile,0.05,0.01,30,6,mon-fri 18:00-08:00|sat-sun
44,UK,0.02,0,1,1,
"""


def load(
    container: Container,
    text: str,
    *,
    plan: str = "retail",
    currency: str | None = "EUR",
    replace: bool = False,
    skip_bad_rows: bool = False,
    timezone: str | None = None,
) -> ImportReport:
    options = PlanOptions(currency=currency, timezone=timezone)
    zone = container.rate_import.plan_timezone(NO_OPERATOR, plan, options)
    deck = read_deck(text.splitlines(keepends=True), timezone=zone)
    return container.rate_import.import_deck(
        deck,
        operator_id=NO_OPERATOR,
        plan=plan,
        source="test.csv",
        options=options,
        replace=replace,
        skip_bad_rows=skip_bad_rows,
    )


def row_count(container: Container) -> int:
    with container.db.transaction(readonly=True) as conn:
        return int(conn.execute(select(func.count()).select_from(rates)).scalar_one())


def import_count(container: Container) -> int:
    with container.db.transaction(readonly=True) as conn:
        return int(conn.execute(select(func.count()).select_from(rate_imports)).scalar_one())


def changes(container: Container, plan: str = "retail") -> list[tuple[object, ...]]:
    with container.db.transaction(readonly=True) as conn:
        record = repo.find_plan(conn, NO_OPERATOR, plan)
        assert record is not None
        return [
            (r.import_id, r.prefix, r.change, r.old_rate, r.new_rate, r.effective_from)
            for r in repo.list_changes(conn, record.id)
        ]


def test_import_and_quote(container: Container) -> None:
    report = load(container, DECK)
    assert (report.rows_read, report.rows_imported, report.rows_rejected) == (5, 5, 0)
    assert report.currency == "EUR"
    assert report.changes == {"new": 5}
    assert row_count(container) == 5
    quote = container.rating.quote(NO_OPERATOR, "retail", "+33 6 12 34 56 78", 61, AT)
    assert (quote.rating.prefix, quote.rating.destination) == ("336", "France Mobile")
    assert quote.rating.cost == Decimal("0.18")
    assert quote.number == "33612345678"
    uk = container.rating.quote(NO_OPERATOR, "retail", "00447911123456", 40, AT)
    assert uk.rating.cost == Decimal("0.0660")  # 0.01 + 42 x 0.08 / 60
    evening = container.rating.quote(NO_OPERATOR, "retail", "447911123456", 40, AT.replace(hour=20))
    assert evening.rating.cost == Decimal("0.0450")


def test_quote_refusals(container: Container) -> None:
    load(container, DECK)
    with pytest.raises(NoRate):
        container.rating.quote(NO_OPERATOR, "retail", "+4915112345678", 60, AT)
    with pytest.raises(UnknownRatePlan):
        container.rating.quote(NO_OPERATOR, "nope", "+33612345678", 60, AT)
    with pytest.raises(InvalidInput):
        container.rating.quote(NO_OPERATOR, "retail", "+33612345678", -1, AT)
    with pytest.raises(InvalidInput):
        container.rating.quote(
            NO_OPERATOR, "retail", "+33612345678", 60, datetime(1, 1, 1, tzinfo=UTC)
        )


def test_max_duration_through_the_service(container: Container) -> None:
    load(container, DECK)
    quote = container.rating.quote(NO_OPERATOR, "retail", "+447911123456", 0, AT, Decimal("0.0660"))
    assert quote.max_duration == 42


def test_one_bad_row_imports_nothing(container: Container) -> None:
    bad = DECK + "49,Germany,zero,0,60,60,\n"
    with pytest.raises(RateDeckError) as caught:
        load(container, bad)
    assert caught.value.problems == [
        (
            7,
            "rate 'zero' is not a decimal number "
            "(ASCII digits with an optional decimal point or comma)",
        )
    ]
    assert "line 7" in caught.value.message
    assert row_count(container) == 0
    assert import_count(container) == 0


def test_one_bad_row_leaves_an_existing_plan_unchanged(container: Container) -> None:
    load(container, DECK)
    before = changes(container)
    bad = "prefix,rate\n33,0.03\n34,0.02\n35,-1\n"
    for replace in (False, True):
        with pytest.raises(RateDeckError):
            load(container, bad, replace=replace)
    assert row_count(container) == 5
    assert import_count(container) == 1
    assert changes(container) == before
    assert container.rating.quote(NO_OPERATOR, "retail", "+3311", 60, AT).rating.cost == Decimal(
        "0.025"
    )


def test_skip_bad_rows_imports_the_good_ones(container: Container) -> None:
    report = load(container, "prefix,rate\n33,0.03\n34,abc\n35,0.02\n33,0.05\n", skip_bad_rows=True)
    assert (report.rows_read, report.rows_imported, report.rows_rejected) == (4, 2, 2)
    assert [line for line, _ in report.problems] == [3, 5]
    assert row_count(container) == 2


def test_reimport_records_new_increased_decreased_and_removed(container: Container) -> None:
    first = load(container, DECK)
    second = load(
        container,
        "prefix,destination,rate,effective_from,time_profile\n"
        "33,France,0.030,2026-04-01,\n"  # increased
        "336,France Mobile,0.08,2026-04-01,\n"  # decreased
        "44,UK,0.02,,\n"  # unchanged: not recorded
        "49,Germany,0.022,2026-04-01,\n"  # new
        "447,UK Mobile,0.08,,mon-fri 08:00-18:00\n",  # unchanged
        replace=True,
    )
    assert second.changes == {"increased": 1, "decreased": 1, "new": 1, "removed": 1}
    april = datetime(2026, 4, 1, tzinfo=UTC)
    recorded = [c for c in changes(container) if c[0] == second.import_id]
    assert recorded == [
        (second.import_id, "33", "increased", Decimal("0.025"), Decimal("0.03"), april),
        (second.import_id, "336", "decreased", Decimal("0.09"), Decimal("0.08"), april),
        (second.import_id, "447", "removed", Decimal("0.05"), None, None),
        (second.import_id, "49", "new", None, Decimal("0.022"), april),
    ]
    assert len([c for c in changes(container) if c[0] == first.import_id]) == 5
    assert row_count(container) == 5  # replace: exactly the new deck


def test_merge_keeps_other_rows_and_replaces_same_key(container: Container) -> None:
    load(container, DECK)
    report = load(container, "prefix,rate\n33,0.03\n49,0.022\n")
    assert report.mode == "merge"
    assert report.changes == {"increased": 1, "new": 1}
    assert row_count(container) == 6  # 33 replaced in place, 49 added, the rest kept
    assert container.rating.quote(NO_OPERATOR, "retail", "+3311", 60, AT).rating.cost == Decimal(
        "0.03"
    )
    assert container.rating.quote(NO_OPERATOR, "retail", "+336", 60, AT).rating.cost == Decimal(
        "0.09"
    )


def test_merge_of_a_dated_row_keeps_the_current_price_until_then(container: Container) -> None:
    load(container, "prefix,rate\n33,0.025\n")
    load(container, "prefix,rate,effective_from\n33,0.030,2026-04-01T00:00:00Z\n")
    assert row_count(container) == 2
    before = datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC)
    after = datetime(2026, 4, 1, tzinfo=UTC)
    assert container.rating.quote(
        NO_OPERATOR, "retail", "+3311", 60, before
    ).rating.cost == Decimal("0.025")
    assert container.rating.quote(NO_OPERATOR, "retail", "+3311", 60, after).rating.cost == Decimal(
        "0.03"
    )


def test_replace_with_an_identical_deck_records_nothing(container: Container) -> None:
    load(container, DECK)
    report = load(container, DECK, replace=True)
    assert report.changes == {}
    assert row_count(container) == 5


def test_currency_mismatch_is_refused(container: Container) -> None:
    load(container, DECK)
    with pytest.raises(InvalidInput, match="EUR"):
        load(container, "prefix,rate\n33,0.03\n", currency="USD")
    assert row_count(container) == 5
    report = load(container, "prefix,rate\n33,0.03\n", currency=None)  # the plan's own
    assert report.currency == "EUR"


def test_options_of_an_existing_plan_are_never_silently_ignored(container: Container) -> None:
    load(container, DECK, timezone="Europe/Paris")
    with pytest.raises(InvalidInput, match="timezone"):
        load(container, "prefix,rate,effective_from\n33,0.03,2026-07-01\n", timezone="UTC")
    report = load(container, "prefix,rate\n33,0.03\n", timezone="Europe/Paris")
    assert report.rows_imported == 1


def test_a_new_plan_needs_a_currency(container: Container) -> None:
    with pytest.raises(InvalidInput, match="currency"):
        load(container, DECK, currency=None)
    with pytest.raises(InvalidInput):
        load(container, DECK, currency="EURO")


def test_naive_deck_dates_are_read_in_the_plan_timezone(container: Container) -> None:
    load(container, "prefix,rate\n33,0.025\n", timezone="Europe/Paris")
    load(container, "prefix,rate,effective_from\n33,0.030,2026-07-01\n")
    with container.db.transaction(readonly=True) as conn:
        record = repo.find_plan(conn, NO_OPERATOR, "retail")
        assert record is not None
        assert record.timezone == "Europe/Paris"
        dated = [r for r in repo.load_rates(conn, record.id) if r.effective_from]
    assert dated[0].effective_from == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)


def test_money_round_trips_exactly(container: Container) -> None:
    deck = (
        "prefix,rate,connect_fee,initial_rate\n"
        "1,0.00000001,0.12345678,99999999.99999999\n"
        "2,1234567890.5,0,\n"
        "3,0.10,0.0100,0\n"
    )
    load(container, deck)
    with container.db.transaction(readonly=True) as conn:
        record = repo.find_plan(conn, NO_OPERATOR, "retail")
        assert record is not None
        stored = {r.prefix: r for r in repo.load_rates(conn, record.id)}
    assert stored["1"].rate == Decimal("0.00000001")
    assert stored["1"].connect_fee == Decimal("0.12345678")
    assert stored["1"].initial_rate == Decimal("99999999.99999999")
    assert stored["2"].rate == Decimal("1234567890.5")
    assert stored["2"].initial_rate is None
    assert stored["3"].initial_rate == Decimal(0)
    for row in stored.values():
        for value in (row.rate, row.connect_fee, row.initial_rate):
            assert value is None or type(value) is Decimal


def test_plan_cache_sees_a_reimport(container: Container) -> None:
    load(container, "prefix,rate\n33,0.025\n")
    assert container.rating.quote(NO_OPERATOR, "retail", "+331", 60, AT).rating.cost == Decimal(
        "0.025"
    )
    load(container, "prefix,rate\n33,0.030\n")
    assert container.rating.quote(NO_OPERATOR, "retail", "+331", 60, AT).rating.cost == Decimal(
        "0.03"
    )


def test_merge_matches_rows_by_prefix_profile_and_date(container: Container) -> None:
    load(container, DECK)
    load(container, "prefix,rate,effective_from\n33,0.03,2026-04-01T00:00:00Z\n")
    report = load(
        container,
        "prefix,rate,connect_fee,initial_increment,increment,effective_from,time_profile\n"
        "447,0.07,0.01,30,6,,mon-fri 08:00-18:00\n"  # replaces the peak row only
        "33,0.04,0,60,60,2026-04-01T00:00:00Z,\n",  # replaces the dated row only
    )
    assert report.changes == {"decreased": 1, "increased": 1}
    assert row_count(container) == 6
    april = datetime(2026, 4, 1, 12, tzinfo=UTC)
    peak = container.rating.quote(NO_OPERATOR, "retail", "+447911", 30, AT).rating
    off_peak = container.rating.quote(
        NO_OPERATOR, "retail", "+447911", 30, AT.replace(hour=20)
    ).rating
    assert (peak.rate, off_peak.rate) == (Decimal("0.07"), Decimal("0.05"))
    assert container.rating.quote(NO_OPERATOR, "retail", "+3311", 60, AT).rating.rate == Decimal(
        "0.025"
    )
    assert container.rating.quote(NO_OPERATOR, "retail", "+3311", 60, april).rating.rate == Decimal(
        "0.04"
    )
