"""Statements merged into one on PostgreSQL (a ledger transaction with its entries, books
and the holds it settles; holds with their books' reservations; a CDR with its legs and
its session's settlement; stop's first read, a session with its holds; start's, the
chain and whether the session exists) store and read exactly what the separate
statements do (as they still run on SQLite, and past the row limit), in the same order;
a value too long for its column is refused, never cut."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select

from support.charging_world import UK, build_world
from support.ledger_accounts import open_account
from voxbill.bootstrap import Container
from voxbill.domain.errors import UnstorableValue
from voxbill.domain.holds import HoldRequest
from voxbill.domain.ledger import BookState
from voxbill.storage.charging import cdrs as cdr_repository
from voxbill.storage.charging import sessions as charging_repository
from voxbill.storage.ledger import books as ledger_repository
from voxbill.storage.ledger import holds as hold_repository
from voxbill.storage.schema.charging import cdr_legs, cdrs, charging_sessions
from voxbill.storage.schema.ledger import (
    holds,
    ledger_books,
    ledger_entries,
    ledger_transactions,
)

AT = datetime(2026, 3, 2, 12, 0, 0, 123456, tzinfo=UTC)
LATER = datetime.now(UTC) + timedelta(hours=1)


def _separate(monkeypatch: pytest.MonkeyPatch, module: Any) -> None:
    """``module`` writes with separate statements, as on SQLite."""
    monkeypatch.setattr(module, "MOST_ROWS", 0)


def _books(container: Container, names: list[str]) -> list[int]:
    with container.db.transaction() as conn:
        return [
            conn.execute(
                insert(ledger_books)
                .values(
                    key=name,
                    account_id=None,
                    purpose="test",
                    currency="EUR",
                    maintained=True,
                    balance=Decimal(0),
                    reserved=Decimal(0),
                    created_at=AT,
                )
                .returning(ledger_books.c.id)
            ).scalar_one()
            for name in names
        ]


def _append(container: Container, books: list[int], currency: str = "EUR") -> int:
    amounts = ["-1.5", "0.25", "1.25", "-0.00000001", "0.00000001"]
    order = [books[2], books[0], books[1], books[0], books[2]]  # not the books' order
    legs = [
        {
            "book_id": book,
            "amount": Decimal(amount),
            "currency": currency,
            "balance_after": None if book == books[1] else Decimal(amount),
        }
        for book, amount in zip(order, amounts, strict=True)
    ]
    states = [
        BookState(books[0], "EUR", True, Decimal("-1.50000001"), Decimal("0.1")),
        BookState(books[2], "EUR", True, Decimal("1.25000001"), Decimal(0)),
    ]
    with container.db.transaction() as conn:
        return ledger_repository.append_transaction(
            conn,
            kind="adjustment",
            actor="test",
            reason=None,
            reference="merged",
            now=AT,
            legs=legs,
            books=states,
        )


def _stored_transaction(container: Container, transaction_id: int, books: list[int]) -> Any:
    with container.db.transaction(readonly=True) as conn:
        row = conn.execute(
            select(ledger_transactions).where(ledger_transactions.c.id == transaction_id)
        ).one()
        entries = conn.execute(
            select(
                ledger_entries.c.book_id,
                ledger_entries.c.amount,
                ledger_entries.c.currency,
                ledger_entries.c.balance_after,
                ledger_entries.c.created_at,
            )
            .where(ledger_entries.c.transaction_id == transaction_id)
            .order_by(ledger_entries.c.id)
        ).all()
        states = conn.execute(
            select(ledger_books.c.balance, ledger_books.c.reserved)
            .where(ledger_books.c.id.in_(books))
            .order_by(ledger_books.c.id)
        ).all()
    return tuple(row)[1:], [tuple(e) for e in entries], [tuple(s) for s in states]


def test_a_ledger_transaction_with_its_entries_and_books_is_stored_as_separately(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    merged_books = _books(container, ["m0", "m1", "m2"])
    merged = _stored_transaction(container, _append(container, merged_books), merged_books)
    _separate(monkeypatch, ledger_repository)
    books = _books(container, ["s0", "s1", "s2"])
    separate = _stored_transaction(container, _append(container, books), books)
    mapping = dict(zip(books, merged_books, strict=True))
    entries = [(mapping[e[0]], *e[1:]) for e in separate[1]]
    assert merged == (separate[0], entries, separate[2])
    assert [e[0] for e in merged[1]] == [merged_books[i] for i in (2, 0, 1, 0, 2)]


def test_a_string_too_long_for_its_column_is_refused_not_cut(container: Container) -> None:
    books = _books(container, ["a", "b", "c"])
    if container.db.dialect == "postgresql":
        with pytest.raises(UnstorableValue) as refused:  # storage's DataError, typed
            _append(container, books, currency="EURO")
        assert "too long" in str(refused.value.__cause__)
        return
    transaction_id = _append(container, books, currency="EURO")  # SQLite keeps any length
    assert {e[2] for e in _stored_transaction(container, transaction_id, books)[1]} == {"EURO"}


def _cdr(session_id: str, account_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    values = {
        "session_id": session_id,
        "account_id": account_id,
        "path": "/1/2/",
        "caller": "+441000000001",
        "callee": "442079460000",
        "started_at": AT,
        "duration": 61,
        "billed_seconds": 66,
        "cost": Decimal("0.12"),
        "currency": "USD",
        "rate": Decimal("0.1"),
        "prefix": "44",
        "destination": "UK",
        "overrun": False,
        "settled_by": "stop",
        "created_at": AT,
        "vendor_id": None,
        "vendor_cost": None,
        "vendor_currency": None,
        "margin": None,
        "settled_reason": None,
        "corrected_at": None,
        "swept_duration": None,
        "swept_cost": None,
        "swept_vendor_cost": None,
    }
    legs = [
        {
            "level": level,
            "account_id": account_id,
            "plan": plan,
            "prefix": "44",
            "destination": "UK",
            "rate": Decimal(rate),
            "billed_seconds": 66,
            "cost": Decimal(rate) / 2,
            "currency": "USD",
            "margin": None if level else Decimal("0.04"),
            "side": "sell",
            "swept_cost": None,
        }
        for level, (plan, rate) in enumerate([("retail", "0.1"), ("wholesale", "0.06")])
    ]
    return values, legs


def _settled(container: Container, session_id: str) -> tuple[Any, Any, list[Any]]:
    with container.db.transaction(readonly=True) as conn:
        session = conn.execute(
            select(
                charging_sessions.c.status,
                charging_sessions.c.used_seconds,
                charging_sessions.c.settled_at,
                charging_sessions.c.updated_at,
                charging_sessions.c.cdr_id,
            ).where(charging_sessions.c.session_id == session_id)
        ).one()
        cdr = conn.execute(select(cdrs).where(cdrs.c.session_id == session_id)).one()
        legs = conn.execute(
            select(cdr_legs).where(cdr_legs.c.cdr_id == cdr.id).order_by(cdr_legs.c.id)
        ).all()
    assert session.cdr_id == cdr.id
    assert [leg.level for leg in legs] == [0, 1]
    return (
        tuple(session)[:-1],
        tuple(cdr)[2:],  # without id and session_id
        [tuple(leg)[2:] for leg in legs],  # without id and cdr_id
    )


def test_a_cdr_settling_its_session_is_stored_as_separately(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(container)
    for session_id in ("merged", "separate"):
        container.charging.start(session_id, world.customer_caller, UK, interim=True)
    changes = {"status": "settled", "used_seconds": 61, "settled_at": AT, "updated_at": AT}
    for session_id in ("merged", "separate"):
        if session_id == "separate":
            _separate(monkeypatch, cdr_repository)
        values, legs = _cdr(session_id, world.customer)
        with container.db.transaction() as conn:
            cdr_repository.insert_cdr(conn, values, legs, settles=(session_id, changes))
    merged, separate = _settled(container, "merged"), _settled(container, "separate")
    assert merged == separate
    assert merged[0] == ("settled", 61, AT, AT)


def _holds_story(container: Container, tag: str) -> list[Any]:
    """Holds at two levels placed, grown, then posted (one charge nil); another pair
    placed and voided, a third posted for nothing: what they left, in comparable form."""
    ledger = container.ledger
    accounts = [open_account(container.db, name=f"{tag}{i}") for i in range(2)]
    for account in accounts:
        ledger.top_up(account, Decimal("10"), actor="test")
    requests = [HoldRequest(a, Decimal(amount)) for a, amount in zip(accounts, ["2", "1.5"])]
    for suffix in ("post", "void", "nil"):
        ledger.place_holds(f"{tag}-{suffix}", requests, expires_at=LATER)
    ledger.extend_holds(f"{tag}-post", [Decimal("3"), Decimal("1.5")], expires_at=LATER)
    ledger.post_holds(f"{tag}-post", [Decimal("1.25"), Decimal(0)])
    ledger.void_holds(f"{tag}-void")
    ledger.post_holds(f"{tag}-nil", [Decimal(0), Decimal(0)])
    found: list[Any] = []
    with container.db.transaction(readonly=True) as conn:
        for suffix in ("post", "void", "nil"):
            rows = conn.execute(
                select(holds).where(holds.c.reference == f"{tag}-{suffix}").order_by(holds.c.id)
            ).all()
            found += [
                (r.level, r.amount, r.status, r.posted_amount, r.transaction_id is None)
                for r in rows
            ]
            kinds = conn.execute(
                select(ledger_transactions.c.kind).where(
                    ledger_transactions.c.id.in_([r.transaction_id for r in rows])
                )
            ).all()
            found.append(sorted(k for (k,) in kinds))
    for account in accounts:
        view = ledger.balance(account)
        found.append((view.balance, view.reserved, view.available))
    return found


def test_holds_written_with_their_books_and_charges_are_stored_as_separately(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Placing, growing, posting and voiding holds write the holds with the books'
    reservations (and a charge with the holds it posts) in one statement on PostgreSQL."""
    merged = _holds_story(container, "m")
    _separate(monkeypatch, hold_repository)
    _separate(monkeypatch, ledger_repository)
    assert merged == _holds_story(container, "s")
    assert merged[:2] == [
        (0, Decimal(3), "posted", Decimal("1.25"), False),
        (1, Decimal("1.5"), "posted", Decimal(0), False),
    ]
    assert merged[2] == ["charge"]
    assert merged[-2:] == [
        (Decimal("8.75"), Decimal(0), Decimal("8.75")),
        (Decimal(10), Decimal(0), Decimal(10)),
    ]
    assert container.ledger.verify() == []


def _columns(hold: Any) -> dict[str, Any]:
    """A hold's values by name, whether a row or a :class:`HoldRecord` brought it."""
    names = hold._fields if hasattr(hold, "_fields") else [f.name for f in fields(hold)]
    return {name: getattr(hold, name) for name in names}


def test_a_session_and_its_holds_read_together_are_the_rows_read_apart(
    container: Container,
) -> None:
    """Stop's first read: on PostgreSQL the session's and its holds' rows locked by one
    statement; the same values, under the same names, as the two reads it replaces."""
    world = build_world(container)
    container.charging.start("together", world.customer_caller, UK, interim=True)
    with container.db.transaction() as conn:
        row, holds_ = charging_repository.session_and_holds(conn, "together")
        alone = charging_repository.session(conn, "together", lock=True)
        apart = hold_repository.holds_by_reference(conn, "together", lock=True)
        assert charging_repository.session_and_holds(conn, "nobody") == (None, [])
    assert row == alone
    assert [_columns(h) for h in holds_] == [_columns(h) for h in apart]
    assert [h.level for h in holds_] == [0, 1]


def test_a_new_calls_chain_is_read_as_before_and_a_known_session_noticed(
    container: Container,
) -> None:
    """Start's first read: the caller's chain (one statement with the session's check on
    PostgreSQL, when the cached ancestors are right), or None for a session that exists."""
    world = build_world(container)
    container.charging.start("known", world.customer_caller, UK, interim=True)
    with container.db.transaction() as conn:
        expected = charging_repository.chain(conn, world.customer, share=True)
        right = expected[0].ancestor_ids

        def chain(session_id: str, account_id: int, ancestors: list[int]) -> Any:
            return charging_repository.chain_unless_started(
                conn, session_id, account_id, ancestors=ancestors
            )

        assert [a.id for a in expected] == [world.customer, world.reseller, world.root]
        assert right == [world.root, world.reseller]
        assert chain("new", world.customer, right) == expected
        assert chain("new", world.customer, [world.reseller]) == expected  # a wrong guess
        assert chain("new", world.customer, []) == expected
        assert chain("new", 987654, [world.root]) == []  # an unknown caller
        for ancestors in (right, [], [world.root]):
            assert chain("known", world.customer, ancestors) is None
        assert chain("known", 987654, [world.root]) is None
