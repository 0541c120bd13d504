"""SQL for effective-dated exchange rates, each set by one operator for its own books,
behind :class:`SqlFxRepository`; rates come back as :class:`~voxbill.domain.fx.FxRate`
(or, for a conversion, :class:`~voxbill.domain.fx.FxQuote`)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, exists, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from voxbill.domain.accounts import AccountKind, operator_of
from voxbill.domain.fx import FxQuote, FxRate
from voxbill.domain.ledger import SystemBook
from voxbill.storage.schema.accounts import accounts
from voxbill.storage.schema.charging import cdr_legs, cdrs
from voxbill.storage.schema.ledger import fx_rates, ledger_books, ledger_entries


def _pair(operator_id: int, base: str, quote: str) -> ColumnElement[bool]:
    """The operator's rates for base→quote and quote→base (a conversion reads either)."""
    return and_(
        fx_rates.c.operator_id == operator_id,
        or_(
            and_(fx_rates.c.base == base, fx_rates.c.quote == quote),
            and_(fx_rates.c.base == quote, fx_rates.c.quote == base),
        ),
    )


def upsert_fx_rate(
    conn: Connection,
    operator_id: int,
    base: str,
    quote: str,
    rate: Decimal,
    effective_from: datetime,
    now: datetime,
) -> bool:
    """Set the operator's rate from ``effective_from``; True when a new row was written."""
    match = and_(
        fx_rates.c.operator_id == operator_id,
        fx_rates.c.base == base,
        fx_rates.c.quote == quote,
        fx_rates.c.effective_from == effective_from,
    )
    if conn.execute(update(fx_rates).where(match).values(rate=rate, updated_at=now)).rowcount:
        return False
    conn.execute(
        insert(fx_rates).values(
            operator_id=operator_id,
            base=base,
            quote=quote,
            rate=rate,
            effective_from=effective_from,
            created_at=now,
            updated_at=now,
        )
    )
    return True


def _rate(row: Any) -> FxRate:
    return FxRate(
        id=row.id,
        operator_id=row.operator_id,
        base=row.base,
        quote=row.quote,
        rate=row.rate,
        effective_from=row.effective_from,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def find_fx_rate(
    conn: Connection, operator_id: int, base: str, quote: str, effective_from: datetime
) -> FxRate | None:
    row = conn.execute(
        select(fx_rates).where(
            fx_rates.c.operator_id == operator_id,
            fx_rates.c.base == base,
            fx_rates.c.quote == quote,
            fx_rates.c.effective_from == effective_from,
        )
    ).first()
    return None if row is None else _rate(row)


def _pair_key(operator_id: int, base: str, quote: str) -> int:
    """A PostgreSQL advisory lock key for the operator's pair (either way round)."""
    text = f"voxbill:fx:{operator_id}:{':'.join(sorted((base, quote)))}"
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), signed=True)


def lock_pair(conn: Connection, operator_id: int, base: str, quote: str, *, shared: bool) -> None:
    """Serialize setting an operator's rate for a pair with the conversions that read it
    (shared), until the transaction ends, on PostgreSQL (SQLite has one writer)."""
    if conn.dialect.name == "postgresql":
        lock = func.pg_advisory_xact_lock_shared if shared else func.pg_advisory_xact_lock
        conn.execute(select(lock(_pair_key(operator_id, base, quote))))


def next_effective_from(
    conn: Connection, operator_id: int, base: str, quote: str, after: datetime
) -> datetime | None:
    """When the operator's next base→quote rate after ``after`` takes over, if any."""
    found: datetime | None = conn.execute(
        select(fx_rates.c.effective_from)
        .where(
            fx_rates.c.operator_id == operator_id,
            fx_rates.c.base == base,
            fx_rates.c.quote == quote,
            fx_rates.c.effective_from > after,
        )
        .order_by(fx_rates.c.effective_from)
        .limit(1)
    ).scalar()
    return found


def fx_rate_at(
    conn: Connection,
    base: str,
    quote: str,
    at: datetime,
    operator_id: int | None = None,
    *,
    lock: bool = False,
) -> FxQuote | None:
    """The operator's rate in force at ``at`` for base→quote or, failing that,
    quote→base (``lock``: no rate of the pair changes until the conversion commits).

    Without ``operator_id`` (callers that do not name the operator yet) it is the
    installation's only operator's rate, and None when there are several: one
    operator's conversion never uses another's rate.
    """
    if operator_id is None:
        operator_id = sole_operator(conn)
        if operator_id is None:
            return None
    if lock:
        lock_pair(conn, operator_id, base, quote, shared=True)
    row = conn.execute(
        select(fx_rates.c.base, fx_rates.c.rate, fx_rates.c.effective_from)
        .where(_pair(operator_id, base, quote), fx_rates.c.effective_from <= at)
        .order_by((fx_rates.c.base == base).desc(), fx_rates.c.effective_from.desc())
        .limit(1)
    ).first()
    return None if row is None else FxQuote(row.base, row.rate, row.effective_from)


def sole_operator(conn: Connection) -> int | None:
    """The id of the installation's operator root when there is exactly one."""
    roots = (
        conn.execute(
            select(accounts.c.id)
            .where(accounts.c.parent_id.is_(None), accounts.c.kind == AccountKind.OPERATOR.value)
            .limit(2)
        )
        .scalars()
        .all()
    )
    return roots[0] if len(roots) == 1 else None


def operator_ids(conn: Connection) -> list[int]:
    """Every operator root's id, ascending."""
    return list(
        conn.execute(
            select(accounts.c.id)
            .where(accounts.c.parent_id.is_(None), accounts.c.kind == AccountKind.OPERATOR.value)
            .order_by(accounts.c.id)
        ).scalars()
    )


def operator_of_account(conn: Connection, account_id: int) -> int | None:
    """The operator root of the tree ``account_id`` belongs to (None: no such account)."""
    path: str | None = conn.execute(
        select(accounts.c.path).where(accounts.c.id == account_id)
    ).scalar()
    return None if path is None else operator_of(path)


def list_fx_rates(
    conn: Connection,
    operator_id: int,
    *,
    base: str | None = None,
    quote: str | None = None,
    at: datetime | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[FxRate]:
    """The operator's stored rates by id; with ``at``, each pair's rate in force then."""
    query = select(fx_rates).where(fx_rates.c.operator_id == operator_id)
    if base is not None:
        query = query.where(fx_rates.c.base == base)
    if quote is not None:
        query = query.where(fx_rates.c.quote == quote)
    if at is not None:
        later = fx_rates.alias("later")
        superseded = exists().where(
            later.c.operator_id == fx_rates.c.operator_id,
            later.c.base == fx_rates.c.base,
            later.c.quote == fx_rates.c.quote,
            later.c.effective_from > fx_rates.c.effective_from,
            later.c.effective_from <= at,
        )
        query = query.where(fx_rates.c.effective_from <= at, ~superseded)
    if after_id is not None:
        query = query.where(fx_rates.c.id > after_id)
    return [_rate(row) for row in conn.execute(query.order_by(fx_rates.c.id).limit(limit))]


# -- what the past used ---------------------------------------------------------------


def first_conversion(
    conn: Connection,
    operator_id: int,
    currencies: tuple[str, str],
    since: datetime,
    until: datetime | None,
) -> datetime | None:
    """The first instant in [since, until) at which the operator's books were converted
    between the two currencies and the result stored: a transfer through the FX books,
    or a CDR's margin over a vendor billing in the other currency. None: no such use."""
    subtree = f"/{operator_id}/%"
    first, second = currencies
    found = [
        _first_fx_transfer(conn, subtree, first, second, since, until),
        _first_converted_margin(conn, subtree, first, second, since, until),
    ]
    instants = [f for f in found if f is not None]
    return min(instants) if instants else None


def _first_fx_transfer(
    conn: Connection, subtree: str, first: str, second: str, since: datetime, until: datetime | None
) -> datetime | None:
    fx_leg = ledger_entries.alias("fx_leg")
    fx_book = ledger_books.alias("fx_book")
    other_leg = ledger_entries.alias("other_leg")
    other_book = ledger_books.alias("other_book")
    mine_leg = ledger_entries.alias("mine_leg")
    mine_book = ledger_books.alias("mine_book")
    query = (
        select(fx_leg.c.created_at)
        .select_from(fx_leg)
        .join(fx_book, fx_book.c.id == fx_leg.c.book_id)
        .where(
            fx_book.c.purpose == SystemBook.FX.value,
            fx_book.c.currency.in_((first, second)),
            fx_leg.c.created_at >= since,
            exists().where(  # the transaction's other FX leg is in the other currency
                other_leg.c.transaction_id == fx_leg.c.transaction_id,
                other_book.c.id == other_leg.c.book_id,
                other_book.c.purpose == SystemBook.FX.value,
                other_book.c.currency.in_((first, second)),
                other_book.c.currency != fx_book.c.currency,
            ),
            exists().where(  # and it moved a balance of this operator's tree
                mine_leg.c.transaction_id == fx_leg.c.transaction_id,
                mine_book.c.id == mine_leg.c.book_id,
                accounts.c.id == mine_book.c.account_id,
                accounts.c.path.like(subtree),
            ),
        )
        .order_by(fx_leg.c.created_at)
        .limit(1)
    )
    if until is not None:
        query = query.where(fx_leg.c.created_at < until)
    found: datetime | None = conn.execute(query).scalar()
    return found


def _first_converted_margin(
    conn: Connection, subtree: str, first: str, second: str, since: datetime, until: datetime | None
) -> datetime | None:
    query = (
        select(cdrs.c.started_at)
        .where(
            cdrs.c.path.like(subtree),
            cdrs.c.margin.is_not(None),
            cdrs.c.vendor_currency.in_((first, second)),
            cdrs.c.started_at >= since,
            exists().where(
                cdr_legs.c.cdr_id == cdrs.c.id,
                cdr_legs.c.currency.in_((first, second)),
                cdr_legs.c.currency != cdrs.c.vendor_currency,
            ),
        )
        .order_by(cdrs.c.started_at)
        .limit(1)
    )
    if until is not None:
        query = query.where(cdrs.c.started_at < until)
    found: datetime | None = conn.execute(query).scalar()
    return found


class SqlFxRepository:
    """:class:`~voxbill.services.ports.ledger.FxRepository` over one transaction's
    connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def upsert_fx_rate(
        self,
        operator_id: int,
        base: str,
        quote: str,
        rate: Decimal,
        effective_from: datetime,
        now: datetime,
    ) -> bool:
        return upsert_fx_rate(self._conn, operator_id, base, quote, rate, effective_from, now)

    def find_fx_rate(
        self, operator_id: int, base: str, quote: str, effective_from: datetime
    ) -> FxRate | None:
        return find_fx_rate(self._conn, operator_id, base, quote, effective_from)

    def lock_pair(self, operator_id: int, base: str, quote: str, *, shared: bool) -> None:
        lock_pair(self._conn, operator_id, base, quote, shared=shared)

    def next_effective_from(
        self, operator_id: int, base: str, quote: str, after: datetime
    ) -> datetime | None:
        return next_effective_from(self._conn, operator_id, base, quote, after)

    def fx_rate_at(
        self,
        base: str,
        quote: str,
        at: datetime,
        operator_id: int | None = None,
        *,
        lock: bool = False,
    ) -> FxQuote | None:
        return fx_rate_at(self._conn, base, quote, at, operator_id, lock=lock)

    def sole_operator(self) -> int | None:
        return sole_operator(self._conn)

    def operator_ids(self) -> list[int]:
        return operator_ids(self._conn)

    def operator_of_account(self, account_id: int) -> int | None:
        return operator_of_account(self._conn, account_id)

    def list_fx_rates(
        self,
        operator_id: int,
        *,
        base: str | None = None,
        quote: str | None = None,
        at: datetime | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[FxRate]:
        return list_fx_rates(
            self._conn, operator_id, base=base, quote=quote, at=at, after_id=after_id, limit=limit
        )

    def first_conversion(
        self, operator_id: int, currencies: tuple[str, str], since: datetime, until: datetime | None
    ) -> datetime | None:
        return first_conversion(self._conn, operator_id, currencies, since, until)
